//! What the store keeps of an agent: its record (kind, state, status, tasks, schedules)
//! under `agents/NAME/record`, and its dead tasks under `agents/NAME/dead/ID`.

use plan_runtime::budget::Spent;
use plan_state::store::{Key, StoreError};
use serde::{Deserialize, Serialize};

use super::{Sleep, Task, TaskSpec};
use crate::schedule::Schedule;

/// An agent's record: everything needed to carry on after a restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub kind: String,
    pub state: serde_json::Value,
    pub status: Status,
    /// Queued and running tasks, by priority (highest first), then id.
    pub tasks: Vec<Queued>,
    pub schedules: Vec<Recurring>,
    /// The id of the next task.
    pub next_task: u64,
    /// What the agent's own budget ([`Kind::budget`](super::Kind::budget)) has spent, as of
    /// its last turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spending: Option<Spending>,
}

/// What an agent's budget had spent, and when that was saved.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Spending {
    pub spent: Spent,
    /// When it was saved, in ms since the epoch.
    pub at_ms: u64,
}

/// Whether an agent is awake, asleep or stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum Status {
    Awake,
    Sleeping {
        sleep: Sleep,
        /// When its timer wakes it, in ms since the epoch.
        wake_at: Option<u64>,
    },
    Stopped,
}

/// A task in the queue; `running` once an attempt has started (and been counted).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Queued {
    pub task: Task,
    pub running: bool,
    /// Why its last attempt failed, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A schedule of an agent: its task, queued each time the schedule comes due.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Recurring {
    pub schedule: Schedule,
    pub task: TaskSpec,
    /// When it next comes due, in ms since the epoch (`None`: never again).
    pub next_at: Option<u64>,
}

/// A task that failed its last attempt, or was queued when its agent was stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadTask {
    /// The task, as of its last attempt.
    pub task: Task,
    /// Why its last attempt failed.
    pub error: String,
    /// When it was dead-lettered, in ms since the Unix epoch.
    pub at_ms: u64,
}

impl Record {
    pub fn new(kind: String, state: serde_json::Value) -> Self {
        Record {
            kind,
            state,
            status: Status::Awake,
            tasks: Vec::new(),
            schedules: Vec::new(),
            next_task: 1,
            spending: None,
        }
    }

    /// Queues `task` in its place: after every task of its priority or higher with a lower
    /// id.
    pub fn enqueue(&mut self, task: Task) {
        let at = self.tasks.partition_point(|q| {
            (q.task.priority, u64::MAX - q.task.id) > (task.priority, u64::MAX - task.id)
        });
        self.tasks.insert(
            at,
            Queued {
                task,
                running: false,
                error: None,
            },
        );
    }

    /// Tasks queued, not running.
    pub fn queued(&self) -> usize {
        self.tasks.iter().filter(|q| !q.running).count()
    }

    /// The task with `id`.
    pub fn task_mut(&mut self, id: u64) -> Option<&mut Queued> {
        self.tasks.iter_mut().find(|q| q.task.id == id)
    }

    /// Takes the task with `id` out of the queue.
    pub fn remove(&mut self, id: u64) -> Option<Task> {
        let at = self.tasks.iter().position(|q| q.task.id == id)?;
        Some(self.tasks.remove(at).task)
    }
}

/// The prefix under which agents are kept.
pub(crate) const PREFIX: &str = "agents/";

/// The key of agent `name`'s record.
pub(crate) fn record_key(name: &str) -> Result<Key, StoreError> {
    Key::new(format!("{PREFIX}{name}/record"))
}

/// The prefix of agent `name`'s dead tasks.
pub(crate) fn dead_prefix(name: &str) -> String {
    format!("{PREFIX}{name}/dead/")
}

/// The key of agent `name`'s dead task `id`.
pub(crate) fn dead_key(name: &str, id: u64) -> Result<Key, StoreError> {
    Key::new(format!("{}{id:020}", dead_prefix(name)))
}

/// The agent whose record `key` is, if it is one.
pub(crate) fn agent_of(key: &Key) -> Option<&str> {
    key.as_str().strip_prefix(PREFIX)?.strip_suffix("/record")
}
