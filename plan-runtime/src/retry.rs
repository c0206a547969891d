//! `#[retry(N, backoff = DURATION)]`: retry a node on failure.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use plan_core::layer::{Layered, Middleware};
use plan_core::{Cx, Describe, GraphBuilder, Plan, PlanError, RetryInfo};

use crate::budget::BudgetExceeded;

/// The layer of `#[retry(attempts, backoff = backoff)]`: runs the plan inside up to
/// `attempts` times in all until it succeeds; the input is cloned for every attempt but the
/// last. Between attempts it waits `backoff · 2^(k-1)` (for the `k`-th retry) with "equal
/// jitter": a uniformly random wait between half that and all of it, so that clients
/// retrying together spread out. The last error is returned.
///
/// Every error is retried except [`PlanError::Cancelled`] and [`PlanError::Panicked`] (a panic
/// is a bug, not a transient failure).
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use plan_runtime::layer::{Retry, around};
/// use plan_runtime::prelude::*;
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
/// fn flaky(x: u32) -> Result<u32, &'static str> {
///     if CALLS.fetch_add(1, Ordering::SeqCst) < 2 { Err("not yet") } else { Ok(x) }
/// }
/// // As `#[retry(3, backoff = 10ms)] flaky`:
/// let p = plan! { #[layer(around(Retry::new(3, Duration::from_millis(10))))] flaky };
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
/// assert_eq!(rt.block_on(p.run(7)).unwrap(), 7);
/// assert_eq!(CALLS.load(Ordering::SeqCst), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    attempts: u32,
    backoff: Duration,
}

impl Retry {
    /// Up to `attempts` attempts in all (0 is treated as 1), the first retry after about
    /// `backoff`.
    pub fn new(attempts: u32, backoff: Duration) -> Self {
        Retry {
            attempts: attempts.max(1),
            backoff,
        }
    }

    /// How many attempts it makes at most, in all.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait before the first retry (before jitter; it doubles for each retry after).
    pub fn backoff(&self) -> Duration {
        self.backoff
    }
}

/// `#[retry(attempts, backoff = backoff)] inner`; `attempts` of 0 is treated as 1.
pub fn retry<P>(attempts: u32, backoff: Duration, inner: P) -> Layered<Retry, P> {
    Layered::new(Retry::new(attempts, backoff), inner)
}

/// The wait before retry number `retry` (1-based).
fn backoff_delay(base: Duration, retry: u32) -> Duration {
    let full = base.saturating_mul(1 << (retry - 1).min(16));
    // A fresh `RandomState` is a new random key: enough randomness for jitter without a crate.
    let unit = RandomState::new().hash_one(retry) as f64 / u64::MAX as f64;
    full.mul_f64(0.5 + unit / 2.0)
}

fn is_retryable(err: &PlanError) -> bool {
    // A budget refusal comes again on every attempt: the budget only ever fills up. A tool
    // may wrap it in its own error (an HTTP step's `OverBudget`): it is found among the causes.
    !(err.is_cancelled() || err.is_panic() || err.caused_by::<BudgetExceeded>().is_some())
}

impl Describe for Retry {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_retry(RetryInfo {
            attempts: self.attempts,
            backoff: self.backoff,
        });
        preds.to_vec()
    }
}

impl<I: Clone + Send, O: Send, C: Sync> Middleware<I, O, C> for Retry {
    async fn around<P>(&self, input: I, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
    where
        P: Plan<I, C, Out = O>,
    {
        for attempt in 1..self.attempts {
            match next.call(input.clone(), cx).await {
                Err(err) if is_retryable(&err) => {
                    tracing::debug!(attempt, error = %err, "retrying");
                    if let Some(monitor) = cx.monitor() {
                        monitor.retry(attempt, &err);
                    }
                    tokio::time::sleep(backoff_delay(self.backoff, attempt)).await;
                }
                done => return done,
            }
        }
        next.call(input, cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_delay;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_with_jitter_in_the_upper_half() {
        let base = Duration::from_millis(100);
        for retry in 1..=4 {
            let full = base * (1 << (retry - 1));
            for _ in 0..100 {
                let delay = backoff_delay(base, retry);
                assert!(delay >= full / 2 && delay <= full, "{delay:?} vs {full:?}");
            }
        }
    }
}
