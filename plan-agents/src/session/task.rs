//! [`Task`]: one piece of work in an agent's queue, and [`TaskSpec`], what asks for one.

use serde::{Deserialize, Serialize};

/// A task in an agent's queue, as its plan sees it in [`Turn::task`](super::Turn::task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Unique within its agent, in the order tasks were queued.
    pub id: u64,
    /// What the task is (`check`, `research`); `mail` for mail.
    pub name: String,
    /// Its input.
    pub input: serde_json::Value,
    /// Higher runs first; tasks of one priority run in the order they were queued.
    pub priority: u8,
    /// Which attempt this is: 1 for the first. An attempt whose plan failed, or that was cut
    /// off by a crash, is followed by another until
    /// [`AgentLimits::max_attempts`](super::AgentLimits::max_attempts).
    pub attempt: u32,
}

/// A task to queue: its name, input and priority.
///
/// ```
/// use plan_agents::session::TaskSpec;
/// let urgent = TaskSpec::new("check").input(serde_json::json!({ "host": "db-1" })).priority(9);
/// assert_eq!((urgent.name.as_str(), urgent.priority), ("check", 9));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The task's name.
    pub name: String,
    /// Its input (`null` unless given).
    #[serde(default)]
    pub input: serde_json::Value,
    /// Its priority (0 unless given).
    #[serde(default)]
    pub priority: u8,
}

impl TaskSpec {
    /// A task named `name`, with input `null` and priority 0.
    pub fn new(name: impl Into<String>) -> Self {
        TaskSpec {
            name: name.into(),
            input: serde_json::Value::Null,
            priority: 0,
        }
    }

    /// With `input`.
    pub fn input(mut self, input: serde_json::Value) -> Self {
        self.input = input;
        self
    }

    /// With `priority`: higher runs first.
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }
}
