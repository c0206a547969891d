//! [`SessionError`]: how an operation on agents fails.

use plan_state::store::StoreError;

use crate::bus::BusError;
use crate::schedule::ScheduleError;

/// Why an operation on agents failed. Nothing an agent had saved is lost by one.
///
/// A name or a reason given from outside is echoed whole up to 64 bytes (a reason up to
/// 512), else as its start, `…` and its length (`aaaa… (500000 bytes)`): a huge name makes a
/// short error, in its `Display` and its `Debug` alike.
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
    /// The agent is owned by another process: the one holding its lease
    /// ([`Builder::lease`](super::Builder::lease)). Ask that one, or wait for it to stop.
    #[error("agent `{agent}` is owned by the process `{owner}`, not by this one")]
    Owned {
        /// The agent.
        agent: String,
        /// The process holding its lease.
        owner: String,
    },
    /// The agent was this process's, but its lease ran out before this process could renew it
    /// ([`Builder::lease`](super::Builder::lease)): it runs the agent no more, and another
    /// process may take it over.
    #[error(
        "agent `{0}` is no longer this process's: its lease ran out before it could be renewed"
    )]
    Lost(String),
    /// A [`Lease`](super::Lease) that cannot work.
    #[error("the agents' lease cannot work: {0}")]
    BadLease(&'static str),
    /// A limit of zero, which would let nothing queue or run.
    #[error("agents' limit `{0}` must be at least 1")]
    BadLimits(&'static str),
    /// [`Agents::shutdown`](super::Agents::shutdown) was called.
    #[error("the agents are shut down")]
    ShutDown,
    /// Creating one more agent would pass [`AgentLimits::agents`](super::AgentLimits::agents).
    #[error(
        "cannot create agent `{agent}`: the agents are at their limit of {limit} (raise `session::AgentLimits::agents` on the builder)"
    )]
    TooManyAgents {
        /// The agent that was not created.
        agent: String,
        /// The limit.
        limit: usize,
    },
    /// Creating one more agent of a kind would pass the kind's limit
    /// ([`Builder::kind_limit`](super::Builder::kind_limit), else
    /// [`AgentLimits::agents`](super::AgentLimits::agents)).
    #[error(
        "cannot create agent `{agent}`: the agents of kind `{kind}` are at their limit of {limit} (raise it with `Builder::kind_limit`)"
    )]
    KindFull {
        /// The agent that was not created.
        agent: String,
        /// Its kind.
        kind: String,
        /// The kind's limit.
        limit: usize,
    },
    /// A schedule that would come due more often than
    /// [`AgentLimits::min_period`](super::AgentLimits::min_period) allows.
    #[error(
        "agent `{agent}`'s schedule {schedule} comes due {gap:?} apart, more often than every {min:?} (lower `session::AgentLimits::min_period` on the builder to allow it)"
    )]
    TooFrequent {
        /// The agent.
        agent: String,
        /// The schedule, as written.
        schedule: String,
        /// A time between two of its runs shorter than `min` (for a cron pattern, the first
        /// such gap among its next times).
        gap: std::time::Duration,
        /// The limit.
        min: std::time::Duration,
    },
    /// One more schedule would pass [`AgentLimits::schedules`](super::AgentLimits::schedules).
    #[error(
        "agent `{agent}` has {limit} schedules, its limit (raise `session::AgentLimits::schedules` on the builder)"
    )]
    TooManySchedules {
        /// The agent.
        agent: String,
        /// The limit.
        limit: usize,
    },
    /// A task name or an event name longer than [`MAX_NAME`](super::MAX_NAME) bytes.
    #[error("a {what} is at most {limit} bytes, not `{name}`")]
    NameTooLong {
        /// What it names: `task name` or `event name`.
        what: &'static str,
        /// The name, cut short.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// The agent's record in the store cannot be read.
    #[error("agent `{agent}`'s record in the store cannot be read: {reason}")]
    Corrupt {
        /// The agent.
        agent: String,
        /// Why not.
        reason: String,
    },
}
