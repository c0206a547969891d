//! `a >> b`: sequential composition.

use plan_core::{Cx, Describe, GraphBuilder, Plan, PlanError};

/// `first >> then`: the output of `first` is the input of `then`.
///
/// `plan!` builds long chains as balanced trees of `Seq`, so a 10,000-step chain nests only
/// about 14 deep (in types, futures and poll calls).
#[derive(Clone, Debug)]
pub struct Seq<A, B> {
    first: A,
    then: B,
}

/// `first >> then`.
pub fn seq<A, B>(first: A, then: B) -> Seq<A, B> {
    Seq { first, then }
}

impl<A: Describe, B: Describe> Describe for Seq<A, B> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let mid = self.first.describe(graph, preds);
        self.then.describe(graph, &mid)
    }
}

impl<I, C, A, B> Plan<I, C> for Seq<A, B>
where
    I: Send,
    C: Sync,
    A: Plan<I, C>,
    B: Plan<A::Out, C>,
{
    type Out = B::Out;

    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<B::Out, PlanError> {
        let mid = self.first.call(input, cx).await?;
        self.then.call(mid, cx).await
    }
}
