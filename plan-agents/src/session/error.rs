//! [`SessionError`]: how an operation on agents fails.

use plan_state::store::StoreError;

use crate::bus::BusError;
use crate::schedule::ScheduleError;

/// Why an operation on agents failed. Nothing an agent had saved is lost by one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No agent has that name.
    #[error("there is no agent `{0}`")]
    NoAgent(String),
    /// An agent of that name exists already.
    #[error("there is already an agent `{0}`")]
    Exists(String),
    /// No kind of agent has that name.
    #[error("there is no kind of agent `{kind}`; the kinds are: {known}")]
    NoKind {
        /// The name asked for.
        kind: String,
        /// The kinds there are, comma-separated.
        known: String,
    },
    /// The agent is stopped.
    #[error("agent `{0}` is stopped")]
    Stopped(String),
    /// The agent's queue is full.
    #[error("agent `{agent}` has {queue} tasks queued, its limit")]
    QueueFull {
        /// The agent.
        agent: String,
        /// Its limit.
        queue: usize,
    },
    /// A state that is not what the agent's kind keeps.
    #[error("the state given for agent `{agent}` is not what a `{kind}` keeps: {reason}")]
    BadState {
        /// The agent.
        agent: String,
        /// Its kind.
        kind: String,
        /// Why not.
        reason: String,
    },
    /// Mail whose payload is not JSON.
    #[error("mail for agent `{agent}` is not JSON: {reason}")]
    BadMail {
        /// The agent.
        agent: String,
        /// Why not.
        reason: String,
    },
    /// A name that is not valid (see [`Name`](crate::bus::Name)).
    #[error(transparent)]
    Name(#[from] BusError),
    /// A schedule that is not valid.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The agent's record was changed by someone else: another process runs the same agents
    /// on the same store.
    #[error(
        "agent `{0}`'s record in the store was changed by someone else: is another process running the same agents on this store?"
    )]
    Concurrent(String),
    /// A limit of zero, which would let nothing queue or run.
    #[error("agents' limit `{0}` must be at least 1")]
    BadLimits(&'static str),
    /// [`Agents::shutdown`](super::Agents::shutdown) was called.
    #[error("the agents are shut down")]
    ShutDown,
    /// The agent's record in the store cannot be read.
    #[error("agent `{agent}`'s record in the store cannot be read: {reason}")]
    Corrupt {
        /// The agent.
        agent: String,
        /// Why not.
        reason: String,
    },
}
