//! [`RateLimit`]: a GCRA rate limiter (`governor`) on tokio's clock, whose callers wait their
//! turn in arrival order.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use super::clock::{TokioClock, TokioInstant};

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

/// A rate limit: over any window of time `w`, it admits at most `rate · w + burst` calls
/// (one call every [`period`](RateLimit::period), plus a burst of up to
/// [`burst`](RateLimit::burst) at once after a quiet spell).
///
/// It is the generic cell rate algorithm of [`governor`], on tokio's clock (a paused test
/// clock drives it exactly). A caller that is not admitted *waits* — [`RateLimit::acquire`]
/// never fails — and waiting callers are admitted in the order they arrived, so none
/// starves and only the first in line watches the clock.
///
/// Cloning is cheap and shares the limit: give clones to every branch of a run and to every
/// run that calls the same service. Wrap a step in one with
/// [`Limits::rate`](super::Limits::rate).
///
/// ```
/// use std::time::Duration;
/// use plan_tools::limit::RateLimit;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// // 10 calls a second, up to 5 at once.
/// let limit = RateLimit::per_second(10).burst(5);
/// assert_eq!(limit.period(), Duration::from_millis(100));
///
/// let start = tokio::time::Instant::now();
/// for _ in 0..5 {
///     assert_eq!(limit.acquire().await, Duration::ZERO); // the burst
/// }
/// assert_eq!(limit.acquire().await, Duration::from_millis(100)); // then one every 100 ms
/// assert_eq!(start.elapsed(), Duration::from_millis(100));
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimit {
    inner: Arc<Inner>,
}

struct Inner {
    quota: Quota,
    gcra: Gcra,
    /// The line of waiting callers: tokio's mutex is fair (first come, first served), and the
    /// one holding it is the only caller sleeping on the limiter.
    queue: tokio::sync::Mutex<()>,
}

impl RateLimit {
    /// A limit with `governor`'s `quota` (its replenish interval and burst size).
    pub fn new(quota: Quota) -> Self {
        RateLimit {
            inner: Arc::new(Inner {
                quota,
                gcra: RateLimiter::direct_with_clock(quota, TokioClock),
                queue: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// One call every `period`, with a burst of 1 (calls evenly spaced).
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    pub fn every(period: Duration) -> Self {
        let quota = Quota::with_period(period).expect("a rate limit's period must not be zero");
        RateLimit::new(quota)
    }

    /// `calls` a second, evenly spaced (a burst of 1; see [`RateLimit::burst`]).
    ///
    /// # Panics
    ///
    /// If `calls` is zero.
    pub fn per_second(calls: u32) -> Self {
        RateLimit::every(Duration::from_secs(1) / nonzero(calls).get())
    }

    /// `calls` a minute, evenly spaced (a burst of 1; see [`RateLimit::burst`]).
    ///
    /// # Panics
    ///
    /// If `calls` is zero.
    pub fn per_minute(calls: u32) -> Self {
        RateLimit::every(Duration::from_secs(60) / nonzero(calls).get())
    }

    /// The same rate, admitting up to `calls` at once after a quiet spell. This makes a new
    /// limit (with none of this one's history): set it when the limit is made, before it is
    /// shared.
    ///
    /// # Panics
    ///
    /// If `calls` is zero.
    pub fn burst(self, calls: u32) -> Self {
        RateLimit::new(self.inner.quota.allow_burst(nonzero(calls)))
    }

    /// The interval at which calls are admitted, once the burst is used up.
    pub fn period(&self) -> Duration {
        self.inner.quota.replenish_interval()
    }

    /// How many calls are admitted at once after a quiet spell.
    pub fn burst_size(&self) -> u32 {
        self.inner.quota.burst_size().get()
    }

    /// The `governor` quota.
    pub fn quota(&self) -> Quota {
        self.inner.quota
    }

    /// Waits until this call is admitted; returns how long it waited (zero when it was
    /// admitted at once). Dropping the future gives up the place in line.
    pub async fn acquire(&self) -> Duration {
        let inner = &*self.inner;
        let start = Instant::now();
        // Whoever finds the line empty is first in it; others wait for their turn.
        let (_turn, mut waited) = match inner.queue.try_lock() {
            Ok(turn) => (turn, false),
            Err(_) => (inner.queue.lock().await, true),
        };
        loop {
            match inner.gcra.check() {
                Ok(()) => {
                    return if waited {
                        start.elapsed()
                    } else {
                        Duration::ZERO
                    };
                }
                Err(not_until) => {
                    waited = true;
                    // Only the head of the line sleeps, so nobody takes the cell it waits
                    // for. Checked again on waking rather than assumed: tokio's timer works
                    // in whole milliseconds, and this stays right whichever way it rounds.
                    tokio::time::sleep_until(not_until.earliest_possible().0).await;
                }
            }
        }
    }
}

fn nonzero(calls: u32) -> NonZeroU32 {
    NonZeroU32::new(calls).expect("a rate limit must admit at least one call")
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("period", &self.period())
            .field("burst", &self.burst_size())
            .finish_non_exhaustive()
    }
}
