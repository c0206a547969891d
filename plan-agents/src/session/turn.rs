//! [`Turn`]: what an agent's plan gets and gives back for each task.

use plan_runtime::Lens;

use super::{Sleep, Task};

/// One turn of an agent: the plan of the agent's kind gets it for a task and gives it back,
/// with the agent's `state` updated, an `output`, and, if the agent should sleep after the
/// task, how (`sleep`).
///
/// It derives [`Lens`], so a plan can `focus(Turn::state)` on the state alone.
///
/// ```
/// use plan_agents::session::{Task, Turn};
/// use plan_runtime::prelude::*;
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Counter { checks: u32 }
///
/// async fn count(mut counter: Counter) -> Counter {
///     counter.checks += 1;
///     counter
/// }
/// // A plan for a kind of agent: it counts each task in the agent's state.
/// let plan = plan! { focus(Turn::state) { count } };
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let task = Task { id: 1, name: "check".into(), input: serde_json::Value::Null, priority: 0, attempt: 1, expires_at_ms: None };
/// let turn = Turn { agent: "ada".into(), task, state: Counter::default(), output: serde_json::Value::Null, sleep: None };
/// assert_eq!(plan.run(turn).await.unwrap().state.checks, 1);
/// # });
/// ```
#[derive(Clone, Debug, Lens)]
pub struct Turn<St> {
    /// The agent's name.
    pub agent: String,
    /// The task.
    pub task: Task,
    /// The agent's state: as it was before the task, and as the plan leaves it.
    pub state: St,
    /// What the task gives out (`null` until the plan sets it): sent with
    /// [`AgentEvent::TaskDone`](super::AgentEvent::TaskDone).
    pub output: serde_json::Value,
    /// Set by the plan to put the agent to sleep once the task is done.
    pub sleep: Option<Sleep>,
}
