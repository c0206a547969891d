//! [`AgentStatus`] and [`Snapshot`]: where agents are, for monitoring.

use serde::{Deserialize, Serialize};

use super::State;

/// One agent, as [`Agents::status`](super::Agents::status) sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its state.
    pub state: State,
    /// Tasks queued, not running.
    pub queued: usize,
    /// Tasks running.
    pub running: usize,
    /// When it wakes by itself, if it sleeps with a timer (ms since the Unix epoch).
    pub wake_at_ms: Option<u64>,
    /// The events it sleeps on.
    pub wakes_on: Vec<String>,
    /// The lowest priority of mail that wakes it, if mail does.
    pub wakes_on_mail: Option<u8>,
    /// Its schedules' next times, soonest first (ms since the Unix epoch).
    pub schedules: Vec<u64>,
    /// Tasks it finished since the process started.
    pub done: u64,
    /// Attempts that failed since the process started.
    pub failed: u64,
    /// Tasks dead-lettered since the process started.
    pub dead: u64,
    /// How long its last finished task took, in milliseconds.
    pub last_task_ms: Option<u64>,
    /// The longest a finished task took, in milliseconds.
    pub max_task_ms: Option<u64>,
    /// Why its last failed attempt failed.
    pub last_error: Option<String>,
}

/// Every agent at one moment, as [`Agents::snapshot`](super::Agents::snapshot) sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The time of the snapshot, in ms since the Unix epoch.
    pub at_ms: u64,
    /// Every agent, by name.
    pub agents: Vec<AgentStatus>,
}

impl Snapshot {
    /// How many agents are in `state`.
    pub fn count(&self, state: State) -> usize {
        self.agents.iter().filter(|a| a.state == state).count()
    }

    /// Tasks queued over all agents.
    pub fn queued(&self) -> usize {
        self.agents.iter().map(|a| a.queued).sum()
    }
}
