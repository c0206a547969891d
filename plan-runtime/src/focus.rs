//! `focus(lens) { body }`: run a plan on one part of the state.

use std::mem;

use plan_core::{Cx, Describe, GraphBuilder, Lens, Plan, PlanError};

/// Runs `body: T -> T` on the part of `S` that `lens` focuses on; `S -> S`.
///
/// The part is *moved* out (leaving `T::default()` in its place), the body runs, and the
/// result is put back: no part of `S` is cloned, and the rest of `S` is not touched. If the
/// body fails or the run is cancelled, the whole `S` is dropped with the run — a plan's state
/// is owned by the run, so no half-updated state can be observed.
#[derive(Clone, Debug)]
pub struct Focus<L, B> {
    lens: L,
    body: B,
}

/// `focus(lens) { body }`.
pub fn focus<L, B>(lens: L, body: B) -> Focus<L, B> {
    Focus { lens, body }
}

impl<L, B: Describe> Describe for Focus<L, B> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        self.body.describe(graph, preds)
    }
}

impl<S, C, L, B> Plan<S, C> for Focus<L, B>
where
    S: Send,
    C: Sync,
    L: Lens<S> + Send + Sync,
    L::Target: Default + Send,
    B: Plan<L::Target, C, Out = L::Target>,
{
    type Out = S;

    async fn call(&self, input: S, cx: Cx<'_, C>) -> Result<S, PlanError> {
        let mut whole = input;
        let part = mem::take(self.lens.get_mut(&mut whole));
        let part = self.body.call(part, cx).await?;
        self.lens.set(&mut whole, part);
        Ok(whole)
    }
}
