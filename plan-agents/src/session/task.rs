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
    /// When it expires, in ms since the Unix epoch, if it was queued with a time to live
    /// ([`TaskSpec::ttl`]): not started by then, it is dead-lettered, never run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

/// A task to queue: its name, input, priority and, if it has one, its time to live.
///
/// ```
/// use std::time::Duration;
/// use plan_agents::session::TaskSpec;
/// let urgent = TaskSpec::new("check")
///     .input(serde_json::json!({ "host": "db-1" }))
///     .priority(9)
///     .ttl(Duration::from_secs(60));
/// assert_eq!((urgent.name.as_str(), urgent.priority, urgent.ttl_ms), ("check", 9, Some(60_000)));
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
    /// Its time to live in ms, if it has one ([`TaskSpec::ttl`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

impl TaskSpec {
    /// A task named `name`, with input `null` and priority 0.
    pub fn new(name: impl Into<String>) -> Self {
        TaskSpec {
            name: name.into(),
            input: serde_json::Value::Null,
            priority: 0,
            ttl_ms: None,
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

    /// With a time to live: a task not started within `ttl` of being queued — also one
    /// restored after a restart — is dead-lettered as expired
    /// ([`AgentEvent::TaskExpired`](super::AgentEvent::TaskExpired)) and never run. A task
    /// that has started (and may be tried again) does not expire.
    pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
        self.ttl_ms = Some(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        self
    }
}
