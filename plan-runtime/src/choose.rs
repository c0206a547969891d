//! `choose { if p => a, .., else => z }` and `choose(router) { Pat => a, .. }`.

use std::future::Future;

use plan_core::{Cx, Describe, GraphBuilder, Plan, PlanError};

/// `if pred(&input) { then } else { otherwise }`; a `choose` with several `if` arms is a
/// chain of these, with each arm's plan in an [`arm`] that labels it in the graph.
#[derive(Clone, Debug)]
pub struct IfElse<P, A, B> {
    pred: P,
    then: A,
    otherwise: B,
}

/// One `if` arm of a `choose`, and what runs otherwise.
pub fn if_else<P, A, B>(pred: P, then: A, otherwise: B) -> IfElse<P, A, B> {
    IfElse {
        pred,
        then,
        otherwise,
    }
}

impl<P, A: Describe, B: Describe> Describe for IfElse<P, A, B> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let mut exits = self.then.describe(graph, preds);
        exits.extend(self.otherwise.describe(graph, preds));
        exits
    }
}

impl<I, C, P, A, B> Plan<I, C> for IfElse<P, A, B>
where
    I: Send,
    C: Sync,
    P: Fn(&I) -> bool + Send + Sync,
    A: Plan<I, C>,
    B: Plan<I, C, Out = A::Out>,
{
    type Out = A::Out;

    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<A::Out, PlanError> {
        if (self.pred)(&input) {
            self.then.call(input, cx).await
        } else {
            self.otherwise.call(input, cx).await
        }
    }
}

/// `choose(router) { Pat => a, .. }`: `select` maps the input to an arm index (the `plan!`
/// macro writes it as a `match` on `router(&input)`, so rustc checks exhaustiveness), and the
/// arm with that index runs.
#[derive(Clone, Debug)]
pub struct Route<S, A> {
    select: S,
    arms: A,
}

/// `choose(router) { .. }`: `select` returns the index of the arm to run in `arms`, built
/// with [`arm`] and [`arms`].
pub fn route<S, A>(select: S, arms: A) -> Route<S, A> {
    Route { select, arms }
}

/// One arm of a `choose`, labelled (in the graph) with its condition or pattern as written;
/// it runs `plan` unchanged. The last arm of a [`Route`].
#[derive(Clone, Debug)]
pub struct Arm<P> {
    label: &'static str,
    plan: P,
}

/// An arm followed by more arms.
#[derive(Clone, Debug)]
pub struct Arms<P, Rest> {
    first: Arm<P>,
    rest: Rest,
}

/// The arm for condition or pattern `label`.
pub fn arm<P>(label: &'static str, plan: P) -> Arm<P> {
    Arm { label, plan }
}

/// `first`, then the arms in `rest` (indices shift by one).
pub fn arms<P, Rest>(first: Arm<P>, rest: Rest) -> Arms<P, Rest> {
    Arms { first, rest }
}

/// A list of arms, indexed from 0.
pub trait RouteArms<I, C>: Describe + Send + Sync {
    /// What every arm produces.
    type Out: Send;
    /// Runs arm `index`.
    fn call_arm(
        &self,
        index: usize,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send;
}

impl<P: Describe> Describe for Arm<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.label_next(self.label);
        self.plan.describe(graph, preds)
    }
}

impl<P: Describe, Rest: Describe> Describe for Arms<P, Rest> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let mut exits = self.first.describe(graph, preds);
        exits.extend(self.rest.describe(graph, preds));
        exits
    }
}

impl<I, C, P: Plan<I, C>> Plan<I, C> for Arm<P> {
    type Out = P::Out;
    fn call(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<P::Out, PlanError>> + Send {
        self.plan.call(input, cx)
    }
}

impl<I, C, P> RouteArms<I, C> for Arm<P>
where
    P: Plan<I, C>,
{
    type Out = P::Out;
    fn call_arm(
        &self,
        _index: usize,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<P::Out, PlanError>> + Send {
        self.plan.call(input, cx)
    }
}

impl<I, C, P, Rest> RouteArms<I, C> for Arms<P, Rest>
where
    I: Send,
    C: Sync,
    P: Plan<I, C>,
    Rest: RouteArms<I, C, Out = P::Out>,
{
    type Out = P::Out;
    async fn call_arm(&self, index: usize, input: I, cx: Cx<'_, C>) -> Result<P::Out, PlanError> {
        match index {
            0 => self.first.plan.call(input, cx).await,
            _ => self.rest.call_arm(index - 1, input, cx).await,
        }
    }
}

impl<S, A: Describe> Describe for Route<S, A> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        self.arms.describe(graph, preds)
    }
}

impl<I, C, S, A> Plan<I, C> for Route<S, A>
where
    I: Send,
    C: Sync,
    S: Fn(&I) -> usize + Send + Sync,
    A: RouteArms<I, C>,
{
    type Out = A::Out;

    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<A::Out, PlanError> {
        let index = (self.select)(&input);
        self.arms.call_arm(index, input, cx).await
    }
}
