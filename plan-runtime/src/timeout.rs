//! `#[timeout(DURATION)]`: a deadline on one node.

use std::time::Duration;

use plan_core::layer::{Layered, Middleware};
use plan_core::{Cx, Describe, GraphBuilder, NodeRef, Plan, PlanError};

/// The layer of `#[timeout(after)]`: cancels the plan inside at the deadline with
/// [`PlanError::Timeout`] naming the node. The inner future is dropped — its destructors
/// have run — before the error is returned. The clock starts when the node starts (its first
/// poll), not when its future is made.
///
/// ```
/// use plan_runtime::layer::{Timeout, around};
/// use plan_runtime::prelude::*;
///
/// async fn slow(x: u32) -> u32 { tokio::time::sleep(Duration::from_secs(5)).await; x }
/// // As `#[timeout(1s)] slow`:
/// let p = plan! { #[layer(around(Timeout::new(Duration::from_secs(1))))] slow };
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
/// let err = rt.block_on(p.run(1)).unwrap_err();
/// assert!(err.is_timeout());
/// assert_eq!(err.node().name, "slow");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout {
    after: Duration,
}

impl Timeout {
    /// A deadline `after` the node starts.
    pub fn new(after: Duration) -> Self {
        Timeout { after }
    }

    /// The deadline.
    pub fn after(&self) -> Duration {
        self.after
    }
}

/// `#[timeout(after)] inner`.
pub fn timeout<P>(after: Duration, inner: P) -> Layered<Timeout, P> {
    Layered::new(Timeout::new(after), inner)
}

impl Describe for Timeout {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_timeout(self.after);
        preds.to_vec()
    }
}

impl<I: Send, O: Send, C: Sync> Middleware<I, O, C> for Timeout {
    async fn around<P>(&self, input: I, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
    where
        P: Plan<I, C, Out = O>,
    {
        let run = tokio::time::timeout(self.after, next.call(input, cx));
        run.await.unwrap_or_else(|_elapsed| {
            if let Some(monitor) = cx.monitor() {
                monitor.deadline(self.after);
            }
            Err(PlanError::timeout(NodeRef::current(&cx), self.after))
        })
    }
}
