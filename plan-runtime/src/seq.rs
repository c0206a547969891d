//! `a >> b >> c`: sequential composition.

use std::future::Future;

use futures::future::Either;

use plan_core::{Cx, Describe, GraphBuilder, Plan, PlanError};

use crate::arity::for_each_arity;

/// `a >> b >> ..`: a tuple of 2 to 12 plans run in turn, the output of each the input of the
/// next. One `Seq` is one state machine awaiting its steps in order. In a run nobody observes
/// (no run report or other monitor, no `tracing` subscriber at DEBUG), it calls its steps
/// inline: a step's future is made when the step before it has finished, with nothing
/// around it but the name a panic is blamed on.
///
/// `plan!` splits longer chains into a balanced tree of `Seq`s (12 wide), so a 10,000-step
/// chain nests only four deep — in types, futures and poll calls.
#[derive(Clone, Debug)]
pub struct Seq<T> {
    steps: T,
}

/// `steps.0 >> steps.1 >> ..`, for a tuple of 2 to 12 plans.
pub fn seq<T>(steps: T) -> Seq<T> {
    Seq { steps }
}

macro_rules! seq_impls {
    (@impl $last:ident; $first:ident 0 $(, $S:ident $i:tt after $prev:ident)+) => {
        impl<$first: Describe $(, $S: Describe)+> Describe for Seq<($first, $($S,)+)> {
            fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
                let exits = self.steps.0.describe(graph, preds);
                $(let exits = self.steps.$i.describe(graph, &exits);)+
                exits
            }
        }

        impl<I, C, $first $(, $S)+> Plan<I, C> for Seq<($first, $($S,)+)>
        where
            I: Send,
            C: Sync,
            $first: Plan<I, C>,
            $($S: Plan<$prev::Out, C>,)+
        {
            type Out = $last::Out;

            // Not `async fn`: its future would keep its arguments and move them again into
            // its body when first polled (seven words, once per `Seq`).
            fn call(
                &self,
                input: I,
                cx: Cx<'_, C>,
            ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
                // Whether anyone observes the run is known here and holds for all of it: a
                // run nobody observes takes the lean path, its steps called inline, and nested
                // `Seq`s do not ask again.
                if !cx.observed() {
                    return Either::Left(self.call_inline(input, cx));
                }
                let steps = &self.steps;
                Either::Right(async move {
                    let data = steps.0.call(input, cx).await?;
                    $(let data = steps.$i.call(data, cx).await?;)+
                    Ok(data)
                })
            }

            // Each step called inline: from this future's body, so inside its poll.
            fn call_inline(
                &self,
                input: I,
                cx: Cx<'_, C>,
            ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
                let steps = &self.steps;
                async move {
                    let data = steps.0.call_inline(input, cx).await?;
                    $(let data = steps.$i.call_inline(data, cx).await?;)+
                    Ok(data)
                }
            }
        }
    };
    // Pairs each step with the one before it, whose output is its input.
    (@pair $first:ident; $prev:ident; [$($done:ident $di:tt after $dp:ident),*] $S:ident $i:tt $(, $rest:ident $r:tt)*) => {
        seq_impls!(@pair $first; $S; [$($done $di after $dp,)* $S $i after $prev] $($rest $r),*);
    };
    (@pair $first:ident; $last:ident; [$($S:ident $i:tt after $prev:ident),+]) => {
        seq_impls!(@impl $last; $first 0 $(, $S $i after $prev)+);
    };
    // One step is not a `Seq`.
    ($first:ident 0) => {};
    ($first:ident 0, $($S:ident $i:tt),+) => {
        seq_impls!(@pair $first; $first; [] $($S $i),+);
    };
}

for_each_arity!(seq_impls);
