//! [`AgentEvent`]: what happens to agents, for monitoring, as tracing events and on a channel
//! ([`Agents::events`](super::Agents::events)).

use serde::{Deserialize, Serialize};

use super::{State, Wake};

/// Something that happened to an agent. Each is also a tracing event (target
/// `plan_agents::session`): state changes and finished tasks at `INFO`, failures at `WARN`,
/// store failures at `ERROR`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentEvent {
    /// An agent was created.
    Created {
        /// The agent.
        agent: String,
        /// Its kind.
        kind: String,
    },
    /// An agent's state changed.
    State {
        /// The agent.
        agent: String,
        /// Its state before.
        from: State,
        /// Its state now.
        to: State,
        /// What woke it, when it was sleeping.
        #[serde(skip_serializing_if = "Option::is_none")]
        woken_by: Option<Wake>,
    },
    /// A task was queued.
    TaskQueued {
        /// The agent.
        agent: String,
        /// The task's id.
        task: u64,
        /// The task's name.
        name: String,
        /// How many tasks the agent has queued now, this one included.
        queued: usize,
    },
    /// A task's attempt started.
    TaskStarted {
        /// The agent.
        agent: String,
        /// The task's id.
        task: u64,
        /// The task's name.
        name: String,
        /// Which attempt.
        attempt: u32,
    },
    /// A task finished.
    TaskDone {
        /// The agent.
        agent: String,
        /// The task's id.
        task: u64,
        /// The task's name.
        name: String,
        /// How long its last attempt took, in milliseconds.
        ms: u64,
        /// What it gave out ([`Turn::output`](super::Turn::output)).
        output: serde_json::Value,
    },
    /// A task queued with a time to live was not started within it: dead-lettered
    /// ([`Agents::dead_tasks`](super::Agents::dead_tasks)), never run.
    TaskExpired {
        /// The agent.
        agent: String,
        /// The task's id.
        task: u64,
        /// The task's name.
        name: String,
    },
    /// A task's attempt failed: its plan failed or panicked, or the process stopped during
    /// it. It is tried again, or, after its last attempt, dead-lettered
    /// ([`Agents::dead_tasks`](super::Agents::dead_tasks)).
    TaskFailed {
        /// The agent.
        agent: String,
        /// The task's id.
        task: u64,
        /// The task's name.
        name: String,
        /// Which attempt failed.
        attempt: u32,
        /// Why.
        error: String,
        /// Whether it was dead-lettered (else it is tried again).
        dead: bool,
    },
    /// This process took an agent over ([`Builder::lease`](super::Builder::lease)): it had no
    /// lease, or its lease expired or was released, or named this process. It runs here from
    /// now on, as after a restart.
    TakenOver {
        /// The agent.
        agent: String,
        /// The process whose lease it was, if another.
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// This process released an agent's lease at [`Agents::shutdown`](super::Agents::shutdown):
    /// another may take it over at once.
    Released {
        /// The agent.
        agent: String,
    },
    /// An agent idle long enough left memory; its record stays in the store
    /// ([`Builder::unload_idle_after`](super::Builder::unload_idle_after)).
    Unloaded {
        /// The agent.
        agent: String,
    },
    /// An agent out of memory was read back from the store, for a call that needs it.
    Loaded {
        /// The agent.
        agent: String,
    },
    /// This process lost an agent: its lease ran out before it was renewed, or another process
    /// took it. Its attempts were cancelled, and nothing more of it runs here.
    Lost {
        /// The agent.
        agent: String,
        /// Why.
        reason: String,
    },
    /// Something that is not a task's failed: the store could not be written, a schedule
    /// found the queue full.
    Error {
        /// The agent.
        agent: String,
        /// What failed.
        error: String,
    },
}

impl AgentEvent {
    /// Writes the event as a tracing event.
    pub(crate) fn trace(&self) {
        match self {
            AgentEvent::Created { agent, kind } => tracing::info!(agent, kind, "agent created"),
            AgentEvent::State {
                agent,
                from,
                to,
                woken_by,
            } => match woken_by {
                Some(by) => {
                    tracing::info!(agent, from = from.as_str(), to = to.as_str(), woken_by = %by, "agent woke")
                }
                None => {
                    tracing::info!(agent, from = from.as_str(), to = to.as_str(), "agent state")
                }
            },
            AgentEvent::TaskQueued {
                agent,
                task,
                name,
                queued,
            } => tracing::debug!(agent, task, name, queued, "task queued"),
            AgentEvent::TaskStarted {
                agent,
                task,
                name,
                attempt,
            } => tracing::debug!(agent, task, name, attempt, "task started"),
            AgentEvent::TaskDone {
                agent,
                task,
                name,
                ms,
                ..
            } => tracing::info!(agent, task, name, ms, "task done"),
            AgentEvent::TaskExpired { agent, task, name } => {
                tracing::warn!(agent, task, name, "task expired before it started")
            }
            AgentEvent::TaskFailed {
                agent,
                task,
                name,
                attempt,
                error,
                dead,
            } => tracing::warn!(agent, task, name, attempt, error, dead, "task failed"),
            AgentEvent::TakenOver { agent, from } => match from {
                Some(from) => tracing::info!(agent, from, "agent taken over"),
                None => tracing::info!(agent, "agent taken over"),
            },
            AgentEvent::Released { agent } => tracing::info!(agent, "agent released"),
            AgentEvent::Unloaded { agent } => tracing::debug!(agent, "agent unloaded"),
            AgentEvent::Loaded { agent } => tracing::debug!(agent, "agent loaded"),
            AgentEvent::Lost { agent, reason } => tracing::warn!(agent, reason, "agent lost"),
            AgentEvent::Error { agent, error } => tracing::error!(agent, error, "agent error"),
        }
    }
}
