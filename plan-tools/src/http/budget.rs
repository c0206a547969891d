//! A retry budget: retries may add at most a set share of extra load, however many calls
//! fail at once.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How many buckets a window is kept in: a request leaves the window a tenth of it at a time.
const BUCKETS: usize = 10;

/// Bounds the retries of every call sharing it: over the last `window`, retries may be at most
/// `ratio` × the calls made, plus `floor` (so that a quiet client can still retry). A retry
/// that would overdraw the budget is not made, and the call fails with its last error. Cheap
/// to clone; clones share one budget (an [`Http`](super::Http) and its clones do).
///
/// Without a budget, when a server fails, every call retries `attempts` times: the load
/// multiplies just when the server can least take it.
///
/// ```
/// use std::time::Duration;
/// use plan_tools::http::RetryBudget;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// // Retries add at most 10 % to the calls of the last 10 s, or 2 retries, whichever is more.
/// let budget = RetryBudget::new(0.1, 2, Duration::from_secs(10));
/// for _ in 0..10 {
///     budget.deposit();
/// }
/// assert!(budget.withdraw());  // 1 ≤ 0.1·10 + 2
/// assert!(budget.withdraw());  // 2
/// assert!(budget.withdraw());  // 3
/// assert!(!budget.withdraw()); // 4 > 3
/// # });
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    ratio: f64,
    floor: u32,
    window: Duration,
    state: Arc<Mutex<Window>>,
}

/// Calls and retries per bucket, the newest last.
struct Window {
    /// When the newest bucket began.
    newest: Instant,
    buckets: [(u32, u32); BUCKETS],
}

impl RetryBudget {
    /// A budget of `ratio` retries per call over the last `window`, plus `floor`.
    pub fn new(ratio: f64, floor: u32, window: Duration) -> Self {
        RetryBudget {
            ratio: ratio.max(0.0),
            floor,
            window: window.max(Duration::from_millis(BUCKETS as u64)),
            state: Arc::new(Mutex::new(Window {
                newest: Instant::now(),
                buckets: [(0, 0); BUCKETS],
            })),
        }
    }

    /// No limit on retries beyond each call's own attempts.
    pub fn unlimited() -> Self {
        RetryBudget::new(f64::INFINITY, u32::MAX, Duration::from_secs(10))
    }

    /// Counts a call (not a retry).
    pub fn deposit(&self) {
        self.update(|bucket| bucket.0 += 1);
    }

    /// Takes one retry from the budget, if it has one.
    pub fn withdraw(&self) -> bool {
        let (ratio, floor) = (self.ratio, self.floor);
        // `∞ × 0` calls is NaN, which admits nothing.
        if ratio.is_infinite() {
            return true;
        }
        let mut allowed = false;
        self.update_window(|window| {
            let (calls, retries) = window
                .buckets
                .iter()
                .fold((0u64, 0u64), |(c, r), &(bc, br)| {
                    (c + u64::from(bc), r + u64::from(br))
                });
            allowed = (retries + 1) as f64 <= ratio * calls as f64 + f64::from(floor);
            if allowed {
                window.buckets[BUCKETS - 1].1 += 1;
            }
        });
        allowed
    }

    fn update(&self, change: impl FnOnce(&mut (u32, u32))) {
        self.update_window(|window| change(&mut window.buckets[BUCKETS - 1]));
    }

    /// Ages the window to now, then applies `change`.
    fn update_window(&self, change: impl FnOnce(&mut Window)) {
        let step = self.window / BUCKETS as u32;
        let mut window = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(window.newest);
        let aged = (elapsed.as_nanos() / step.as_nanos().max(1)).min(BUCKETS as u128) as usize;
        if aged > 0 {
            window.buckets.rotate_left(aged);
            for bucket in &mut window.buckets[BUCKETS - aged..] {
                *bucket = (0, 0);
            }
            window.newest += step * aged as u32;
            if aged == BUCKETS {
                window.newest = now;
            }
        }
        change(&mut window);
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.ratio)
            .field("floor", &self.floor)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_leave_the_window_as_it_moves_on() {
        let budget = RetryBudget::new(0.5, 0, Duration::from_secs(10));
        for _ in 0..4 {
            budget.deposit();
        }
        assert!(budget.withdraw());
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
        // Eleven seconds on, the calls and retries have left the window: nothing to draw on.
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert!(!budget.withdraw());
        budget.deposit();
        budget.deposit();
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
    }

    #[test]
    fn the_floor_allows_retries_without_calls() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let budget = RetryBudget::new(0.0, 2, Duration::from_secs(1));
            assert!(budget.withdraw());
            assert!(budget.withdraw());
            assert!(!budget.withdraw());
            assert!(RetryBudget::unlimited().withdraw());
        });
    }
}
