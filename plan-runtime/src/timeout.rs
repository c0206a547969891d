//! `#[timeout(DURATION)]`: a deadline on one node.

use std::time::Duration;

use plan_core::{Cx, Describe, GraphBuilder, NodeRef, Plan, PlanError};

/// Cancels `inner` at the deadline with [`PlanError::Timeout`] naming the node. The inner
/// future is dropped — its destructors have run — before the error is returned.
#[derive(Clone, Debug)]
pub struct Timeout<P> {
    after: Duration,
    inner: P,
}

/// `#[timeout(after)] inner`.
pub fn timeout<P>(after: Duration, inner: P) -> Timeout<P> {
    Timeout { after, inner }
}

impl<P: Describe> Describe for Timeout<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_timeout(self.after);
        self.inner.describe(graph, preds)
    }
}

impl<I, C, P> Plan<I, C> for Timeout<P>
where
    I: Send,
    C: Sync,
    P: Plan<I, C>,
{
    type Out = P::Out;

    // An `async fn`: the clock starts when the node starts (first poll), not when the
    // future is made.
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<P::Out, PlanError> {
        let run = tokio::time::timeout(self.after, self.inner.call(input, cx));
        run.await.unwrap_or_else(|_elapsed| {
            if let Some(monitor) = cx.monitor() {
                monitor.deadline(self.after);
            }
            Err(PlanError::timeout(NodeRef::current(&cx), self.after))
        })
    }
}
