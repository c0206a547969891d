//! `#[retry(N, backoff = DURATION)]`: retry a node on failure.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use plan_core::{Cx, Describe, GraphBuilder, Plan, PlanError, RetryInfo};

/// Runs `inner` up to `attempts` times in all until it succeeds; the input is cloned for every
/// attempt but the last. Between attempts it waits `backoff · 2^(k-1)` (for the `k`-th retry)
/// with "equal jitter": a uniformly random wait between half that and all of it, so that
/// clients retrying together spread out. The last error is returned.
///
/// Every error is retried except [`PlanError::Cancelled`] and [`PlanError::Panicked`] (a panic
/// is a bug, not a transient failure).
#[derive(Clone, Debug)]
pub struct Retry<P> {
    attempts: u32,
    backoff: Duration,
    inner: P,
}

/// `#[retry(attempts, backoff = backoff)] inner`; `attempts` of 0 is treated as 1.
pub fn retry<P>(attempts: u32, backoff: Duration, inner: P) -> Retry<P> {
    Retry {
        attempts: attempts.max(1),
        backoff,
        inner,
    }
}

/// The wait before retry number `retry` (1-based).
fn backoff_delay(base: Duration, retry: u32) -> Duration {
    let full = base.saturating_mul(1 << (retry - 1).min(16));
    // A fresh `RandomState` is a new random key: enough randomness for jitter without a crate.
    let unit = RandomState::new().hash_one(retry) as f64 / u64::MAX as f64;
    full.mul_f64(0.5 + unit / 2.0)
}

fn is_retryable(err: &PlanError) -> bool {
    !(err.is_cancelled() || err.is_panic())
}

impl<P: Describe> Describe for Retry<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_retry(RetryInfo {
            attempts: self.attempts,
            backoff: self.backoff,
        });
        self.inner.describe(graph, preds)
    }
}

impl<I, C, P> Plan<I, C> for Retry<P>
where
    I: Clone + Send,
    C: Sync,
    P: Plan<I, C>,
{
    type Out = P::Out;

    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<P::Out, PlanError> {
        for attempt in 1..self.attempts {
            match self.inner.call(input.clone(), cx).await {
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
        self.inner.call(input, cx).await
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
