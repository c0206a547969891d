//! `loop(while|until = p, max = n[, on_limit = stop]) { body }`: a bounded loop.

use plan_core::{Cx, Describe, GraphBuilder, NodeRef, Plan, PlanError};

/// When a loop checks its condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// `while = p`: check `p(&state)` before each pass; stop when it is false.
    While,
    /// `until = p`: check `p(&state)` after each pass; stop when it is true.
    Until,
}

/// What a loop does when it has made `max` passes and its condition still asks for more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnLimit {
    /// Fail with [`PlanError::LoopLimit`] (the default).
    Error,
    /// Return the last state.
    Stop,
}

/// Runs `body: S -> S` repeatedly, at most `max` passes; `S -> S`.
#[derive(Clone, Debug)]
pub struct Loop<P, B> {
    check: Check,
    pred: P,
    max: u32,
    on_limit: OnLimit,
    body: B,
}

/// A loop of at most `max` passes of `body`, checking `pred` as `check` says: `plan!`'s
/// `loop`, written `r#loop` since `loop` is a keyword.
pub fn r#loop<P, B>(check: Check, pred: P, max: u32, body: B) -> Loop<P, B> {
    Loop {
        check,
        pred,
        max,
        on_limit: OnLimit::Error,
        body,
    }
}

impl<P, B> Loop<P, B> {
    /// What to do when passes run out.
    pub fn on_limit(mut self, on_limit: OnLimit) -> Self {
        self.on_limit = on_limit;
        self
    }
}

impl<P, B: Describe> Describe for Loop<P, B> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let exits = self.body.describe(graph, preds);
        for (&exit, &head) in exits.iter().zip(preds.iter().cycle()) {
            graph.edge(exit, head, Some("again"));
        }
        preds.to_vec()
    }
}

impl<S, C, P, B> Plan<S, C> for Loop<P, B>
where
    S: Send,
    C: Sync,
    P: Fn(&S) -> bool + Send + Sync,
    B: Plan<S, C, Out = S>,
{
    type Out = S;

    async fn call(&self, input: S, cx: Cx<'_, C>) -> Result<S, PlanError> {
        let mut state = input;
        for pass in 0..self.max {
            if self.check == Check::While && !(self.pred)(&state) {
                return Ok(state);
            }
            // A scope per pass: a durable run tells the passes' outputs apart by it.
            let scope = cx.pass(pass as usize);
            state = self.body.call(state, cx.nested(&scope)).await?;
            if self.check == Check::Until && (self.pred)(&state) {
                return Ok(state);
            }
        }
        // Out of passes: done only if a `while` condition has become false on the last pass.
        if self.check == Check::While && !(self.pred)(&state) || self.on_limit == OnLimit::Stop {
            return Ok(state);
        }
        Err(PlanError::LoopLimit {
            node: NodeRef::current(&cx).into(),
            max: self.max,
        })
    }
}
