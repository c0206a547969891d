//! `each(POLICY, limit = k) { step }`: one step fanned out over a collection's items.

use std::time::Duration;

use futures::future::Either;
use plan_core::{Cx, Describe, GraphBuilder, ParallelSpec, Plan, PlanError};

use crate::cut_off::branch_ref;
use crate::group::{GroupPolicy, ParallelPolicy, run_group};

/// Runs `step` on every item of its input (any `IntoIterator`), concurrently, under `policy`;
/// results come back in input order. [`All`](crate::policy::All) gives `Vec<U>`,
/// [`Settled`](crate::policy::Settled) `Vec<Result<U, PlanError>>`,
/// [`NBest`](crate::policy::NBest) `Vec<U>`, [`QuorumPolicy`](crate::policy::QuorumPolicy)
/// [`Quorum<U>`](crate::policy::Quorum); the single-winner policies give `U`.
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

/// Runs `step` on item `index` in a scope of its own, by which a durable run tells the items'
/// outputs apart whatever order they finish in. Boxed, and only in a run with a journal: the
/// scope would otherwise add to the memory of every item of every fan-out.
async fn item_run<I, C, S: Plan<I, C>>(
    step: &S,
    item: I,
    cx: Cx<'_, C>,
    index: usize,
) -> Result<S::Out, PlanError> {
    let scope = cx.pass(index);
    step.call(item, cx.nested(&scope)).await
}

impl<It, C, S, P> Plan<It, C> for Each<S, P>
where
    It: IntoIterator + Send,
    It::IntoIter: Send,
    It::Item: Send,
    C: Sync,
    S: Plan<It::Item, C>,
    P: GroupPolicy<S::Out>,
{
    type Out = P::Out;

    async fn call(&self, input: It, cx: Cx<'_, C>) -> Result<P::Out, PlanError> {
        let journaled = cx.journal().is_some();
        let branches = input.into_iter().enumerate().map(|(index, item)| {
            if journaled {
                Either::Right(Box::pin(item_run(&self.step, item, cx, index)))
            } else {
                Either::Left(self.step.call(item, cx))
            }
        });
        // Every item runs the body, the group's only child.
        let names = |_item| branch_ref(&cx, 0, &self.step);
        run_group(branches, &self.spec(), &self.policy, &cx, &names).await
    }
}
