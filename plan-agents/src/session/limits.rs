//! [`AgentLimits`]: how many agents there may be, how much each may queue, run and schedule, and
//! how often a task is tried.

use std::time::Duration;

/// How much the agents of one [`Agents`](super::Agents) may hold, queue and run at once.
///
/// Every caller is held to them alike, in process or through the control API: they bound
/// what a client can make the agents keep in memory and in the store, and how much work it
/// can make them do. Each has a default fit for one process; raise it on the
/// [`Builder`](super::Builder) where that is too few.
///
/// ```
/// use std::time::Duration;
/// use plan_agents::session::AgentLimits;
///
/// let limits = AgentLimits { active_agents: 4, agents: 100, ..AgentLimits::default() };
/// assert_eq!((limits.queue, limits.tasks_per_agent, limits.max_attempts), (64, 1, 3));
/// assert_eq!((limits.schedules, limits.min_period), (16, Duration::from_secs(1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentLimits {
    /// Agents there may be, stopped ones included (they stay in the store); one more is
    /// refused with [`SessionError::TooManyAgents`](super::SessionError::TooManyAgents).
    /// Agents of each kind are at most as many, or fewer with
    /// [`Builder::kind_limit`](super::Builder::kind_limit). 10,000 by default.
    ///
    /// A restart restores every agent the store keeps, even past a limit lowered since: then
    /// no agent is created until there are fewer.
    pub agents: usize,
    /// Tasks an agent may have queued (not counting those running), however they come:
    /// [`Agents::schedule`](super::Agents::schedule), [mail](super::Agents::mail), a
    /// schedule coming due, a replay of dead tasks. One more is refused with
    /// [`SessionError::QueueFull`](super::SessionError::QueueFull) (from a schedule, told as
    /// an [`AgentEvent::Error`](super::AgentEvent::Error)). 64 by default.
    pub queue: usize,
    /// Schedules ([`Agents::every`](super::Agents::every)) an agent may have; one more is
    /// refused with [`SessionError::TooManySchedules`](super::SessionError::TooManySchedules).
    /// 16 by default.
    pub schedules: usize,
    /// The shortest time between two runs of a schedule: a period, or the shortest gap
    /// between a cron pattern's next 64 times. A schedule that comes due more often is
    /// refused with [`SessionError::TooFrequent`](super::SessionError::TooFrequent); 0 lets
    /// any through. 1 s by default. Schedules the store keeps are restored as they are.
    pub min_period: Duration,
    /// Tasks one agent runs at once. 1 by default: an agent's turns then see each other's
    /// state changes in order.
    pub tasks_per_agent: usize,
    /// Agents running tasks at once; the others with work to do are
    /// [`Waiting`](super::State::Waiting). 16 by default.
    pub active_agents: usize,
    /// Attempts of a task, counting one that a crash cut off, before it is dead-lettered.
    /// 3 by default.
    pub max_attempts: u32,
    /// The largest state an agent may keep, in bytes of JSON: a turn whose new state is
    /// larger fails (the last good state is kept, and the task is tried again as after any
    /// failure). `None` (the default): no limit. [`AgentStatus::state_bytes`](super::AgentStatus::state_bytes)
    /// tells each agent's size.
    pub max_state_bytes: Option<usize>,
}

/// The longest task name and event name, in bytes: longer ones are refused with
/// [`SessionError::NameTooLong`](super::SessionError::NameTooLong).
pub const MAX_NAME: usize = 255;

/// Fails with [`SessionError::NameTooLong`](super::SessionError::NameTooLong) if `name`, a
/// `what` (`task name`, `event name`), is longer than [`MAX_NAME`].
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), super::SessionError> {
    if name.len() > MAX_NAME {
        return Err(super::SessionError::NameTooLong {
            what,
            name: crate::echo::name(name),
            limit: MAX_NAME,
        });
    }
    Ok(())
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            agents: 10_000,
            queue: 64,
            schedules: 16,
            min_period: Duration::from_secs(1),
            tasks_per_agent: 1,
            active_agents: 16,
            max_attempts: 3,
            max_state_bytes: None,
        }
    }
}
