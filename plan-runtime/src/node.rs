//! The wrappers that give a node its identity: [`Node`] around constructs, [`Leaf`] around
//! steps (it also catches panics), [`Nested`] around a whole plan used as a step.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use plan_core::{Cx, Describe, GraphBuilder, NodeInfo, NodeRef, Plan, PlanError};
use tracing::Instrument as _;

/// A construct (`par`, `loop`, the plan's root, …) with its static identity: errors raised
/// inside name it, it runs in a `tracing` span, and it appears in the plan's graph.
#[derive(Clone, Debug)]
pub struct Node<P> {
    info: &'static NodeInfo,
    inner: P,
}

/// A step with its static identity. Like [`Node`], and a panic inside the step becomes
/// [`PlanError::Panicked`] naming it.
#[derive(Clone, Debug)]
pub struct Leaf<P> {
    info: &'static NodeInfo,
    inner: P,
}

/// A plan used as a step of another: nodes inside are named with full paths through it.
#[derive(Clone, Debug)]
pub struct Nested<P> {
    plan: P,
}

/// Wraps a construct; see [`Node`].
pub fn node<P>(info: &'static NodeInfo, inner: P) -> Node<P> {
    Node { info, inner }
}

/// Wraps a step; see [`Leaf`].
pub fn leaf<P>(info: &'static NodeInfo, inner: P) -> Leaf<P> {
    Leaf { info, inner }
}

impl<P> Nested<P> {
    /// Nests `plan`.
    pub fn new(plan: P) -> Self {
        Nested { plan }
    }
}

/// The span every node runs in. At DEBUG level, target `plan_runtime::node`: with no
/// subscriber interested it is a no-op costing one relaxed atomic load.
fn span(info: &'static NodeInfo) -> tracing::Span {
    tracing::debug_span!(
        "plan.node",
        name = info.name,
        kind = info.kind.as_str(),
        path = info.path,
        policy = info.policy.unwrap_or(""),
    )
}

impl<P> Describe for Node<P>
where
    P: Describe,
{
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let id = graph.add(self.info, preds);
        graph.open(id);
        let exits = self.inner.describe(graph, &[id]);
        graph.close();
        exits
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        Some(self.info)
    }
}

impl<I, C, P> Plan<I, C> for Node<P>
where
    P: Plan<I, C>,
{
    type Out = P::Out;

    fn call(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        self.inner
            .call(input, cx.at(self.info))
            .instrument(span(self.info))
    }
}

impl<P> Describe for Leaf<P>
where
    P: Describe,
{
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let id = graph.add(self.info, preds);
        graph.open(id);
        self.inner.describe(graph, &[id]);
        graph.close();
        vec![id]
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        Some(self.info)
    }
}

impl<I, C, P> Plan<I, C> for Leaf<P>
where
    P: Plan<I, C>,
    C: Sync,
{
    type Out = P::Out;

    fn call(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        let cx = cx.at(self.info);
        AssertUnwindSafe(self.inner.call(input, cx))
            .catch_unwind()
            .map(move |outcome| {
                outcome.unwrap_or_else(|payload| {
                    Err(PlanError::Panicked {
                        node: NodeRef::current(&cx),
                        message: panic_message(payload.as_ref()),
                    })
                })
            })
            .instrument(span(self.info))
    }
}

/// The text of a panic payload (`panic!` with a literal or a format string).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl<P: Describe> Describe for Nested<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.enter_plan();
        let exits = self.plan.describe(graph, preds);
        graph.exit_plan();
        exits
    }
}

impl<I, C, P> Plan<I, C> for Nested<P>
where
    P: Plan<I, C>,
    I: Send,
    C: Sync,
{
    type Out = P::Out;

    fn call(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        async move {
            let scope = cx.scope();
            self.plan.call(input, cx.nested(&scope)).await
        }
    }
}
