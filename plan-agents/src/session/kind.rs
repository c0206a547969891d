//! Kinds of agent: the plan that runs an agent's tasks, behind a type-erased handler so that
//! agents of several kinds (each with its own state type) live in one [`Agents`](super::Agents).

use std::any::type_name;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use plan_runtime::Plan;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Turn;

/// A kind of agent, with its state as JSON.
pub(crate) trait Handler: Send + Sync {
    /// The state of a new agent of this kind.
    fn initial(&self) -> Result<serde_json::Value, String>;

    /// Whether `state` is a state of this kind.
    fn check(&self, state: &serde_json::Value) -> Result<(), String>;

    /// Runs one turn. A panic of the plan is an error, not the end of the process.
    fn turn(
        &self,
        turn: Turn<serde_json::Value>,
    ) -> BoxFuture<'static, Result<Turn<serde_json::Value>, String>>;
}

/// A kind from a plan over `Turn<St>` with context `C`.
pub(crate) struct Typed<St, P, C> {
    plan: Arc<P>,
    context: Arc<C>,
    state: PhantomData<fn() -> St>,
}

impl<St, P, C> Typed<St, P, C> {
    pub fn new(plan: P, context: C) -> Self {
        Typed {
            plan: Arc::new(plan),
            context: Arc::new(context),
            state: PhantomData,
        }
    }
}

fn decode<St: DeserializeOwned>(state: serde_json::Value) -> Result<St, String> {
    serde_json::from_value(state).map_err(|e| format!("it is not a `{}`: {e}", type_name::<St>()))
}

impl<St, P, C> Handler for Typed<St, P, C>
where
    St: Serialize + DeserializeOwned + Default + Send + 'static,
    P: Plan<Turn<St>, C, Out = Turn<St>> + 'static,
    C: Send + Sync + 'static,
{
    fn initial(&self) -> Result<serde_json::Value, String> {
        serde_json::to_value(St::default()).map_err(|e| e.to_string())
    }

    fn check(&self, state: &serde_json::Value) -> Result<(), String> {
        decode::<St>(state.clone()).map(drop)
    }

    fn turn(
        &self,
        turn: Turn<serde_json::Value>,
    ) -> BoxFuture<'static, Result<Turn<serde_json::Value>, String>> {
        let (plan, context) = (self.plan.clone(), self.context.clone());
        Box::pin(async move {
            let state = decode::<St>(turn.state)
                .map_err(|e| format!("the agent's state cannot be read: {e}"))?;
            let turn = Turn {
                agent: turn.agent,
                task: turn.task,
                state,
                output: turn.output,
                sleep: turn.sleep,
            };
            let run = AssertUnwindSafe(plan.run_with(turn, &context)).catch_unwind();
            let done = match run.await {
                Ok(Ok(done)) => done,
                Ok(Err(error)) => return Err(error.to_string()),
                Err(panic) => return Err(format!("the plan panicked: {}", panic_message(&*panic))),
            };
            Ok(Turn {
                agent: done.agent,
                task: done.task,
                state: serde_json::to_value(done.state)
                    .map_err(|e| format!("the agent's new state cannot be saved: {e}"))?,
                output: done.output,
                sleep: done.sleep,
            })
        })
    }
}

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload")
}
