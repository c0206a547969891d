//! `a >> b >> c`: sequential composition.

use plan_core::{Cx, Describe, GraphBuilder, Plan, PlanError};

/// `a >> b >> ..`: a tuple of 2 to 12 plans run in turn, the output of each the input of the
/// next. One `Seq` is one state machine awaiting its steps in order.
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
    ($last:ident; $first:ident 0 $(, $S:ident $i:tt after $prev:ident)+) => {
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

            async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<Self::Out, PlanError> {
                let data = self.steps.0.call(input, cx).await?;
                $(let data = self.steps.$i.call(data, cx).await?;)+
                Ok(data)
            }
        }
    };
}

seq_impls!(S1; S0 0, S1 1 after S0);
seq_impls!(S2; S0 0, S1 1 after S0, S2 2 after S1);
seq_impls!(S3; S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2);
seq_impls!(S4; S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3);
seq_impls!(S5; S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3, S5 5 after S4);
seq_impls!(
    S6;
    S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3, S5 5 after S4,
    S6 6 after S5
);
seq_impls!(
    S7;
    S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3, S5 5 after S4,
    S6 6 after S5, S7 7 after S6
);
seq_impls!(
    S8;
    S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3, S5 5 after S4,
    S6 6 after S5, S7 7 after S6, S8 8 after S7
);
seq_impls!(
    S9;
    S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3, S5 5 after S4,
    S6 6 after S5, S7 7 after S6, S8 8 after S7, S9 9 after S8
);
seq_impls!(
    S10;
    S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3, S5 5 after S4,
    S6 6 after S5, S7 7 after S6, S8 8 after S7, S9 9 after S8, S10 10 after S9
);
seq_impls!(
    S11;
    S0 0, S1 1 after S0, S2 2 after S1, S3 3 after S2, S4 4 after S3, S5 5 after S4,
    S6 6 after S5, S7 7 after S6, S8 8 after S7, S9 9 after S8, S10 10 after S9,
    S11 11 after S10
);
