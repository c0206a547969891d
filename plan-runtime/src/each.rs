//! `each(POLICY, limit = k) { step }`: one step fanned out over a collection's items.

use std::time::Duration;

use plan_core::{Cx, Describe, GraphBuilder, ParallelSpec, Plan, PlanError};

use crate::cut_off::branch_ref;
use crate::gather::{Gather, ParallelPolicy, gather};

/// Runs `step` on every item of its input (any `IntoIterator`), concurrently, under `policy`;
/// results come back in input order. [`All`](crate::policy::All) gives `Vec<U>`,
/// [`Settled`](crate::policy::Settled) `Vec<Result<U, PlanError>>`,
/// [`NBest`](crate::policy::NBest) `Vec<U>`; the single-winner policies give `U`.
#[derive(Clone, Debug)]
pub struct Each<S, P> {
    step: S,
    policy: P,
    timeout: Option<Duration>,
    limit: Option<usize>,
}

/// An `each` group running `step` on every item under `policy`.
pub fn each<S, P>(policy: P, step: S) -> Each<S, P> {
    Each {
        step,
        policy,
        timeout: None,
        limit: None,
    }
}

impl<S, P: ParallelPolicy> Each<S, P> {
    /// A deadline for the whole group, with the same effect per policy as
    /// [`Par::timeout`](crate::nodes::Par::timeout); under `settled`, items not yet started
    /// are reported as timed out too (which reads the rest of the input).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// At most `limit` items are processed at once (a limit of 0 is taken as 1).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit.max(1));
        self
    }

    fn spec(&self) -> ParallelSpec {
        ParallelSpec {
            policy: self.policy.policy(),
            timeout: self.timeout,
            limit: self.limit,
        }
    }
}

impl<S: Describe, P: ParallelPolicy> Describe for Each<S, P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_parallel(self.spec());
        self.step.describe(graph, preds)
    }
}

impl<It, C, S, P> Plan<It, C> for Each<S, P>
where
    It: IntoIterator + Send,
    It::IntoIter: Send,
    It::Item: Send,
    C: Sync,
    S: Plan<It::Item, C>,
    P: Gather<S::Out>,
{
    type Out = P::Out;

    async fn call(&self, input: It, cx: Cx<'_, C>) -> Result<P::Out, PlanError> {
        let branches = input.into_iter().map(|item| self.step.call(item, cx));
        // Every item runs the body, the group's only child.
        let names = |_item| branch_ref(&cx, 0, &self.step);
        gather(branches, &self.spec(), &self.policy, &cx, &names).await
    }
}
