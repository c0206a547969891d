//! [`Limits`]: how much an agent system may queue and run at once, and how often a task is
//! tried.

/// How much the agents of one [`Agents`](super::Agents) may queue and run at once.
///
/// ```
/// use plan_agents::session::Limits;
/// let limits = Limits { active_agents: 4, ..Limits::default() };
/// assert_eq!((limits.queue, limits.tasks_per_agent, limits.max_attempts), (64, 1, 3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Tasks an agent may have queued (not counting those running); one more is refused with
    /// [`SessionError::QueueFull`](super::SessionError::QueueFull). 64 by default.
    pub queue: usize,
    /// Tasks one agent runs at once. 1 by default: an agent's turns then see each other's
    /// state changes in order.
    pub tasks_per_agent: usize,
    /// Agents running tasks at once; the others with work to do are
    /// [`Waiting`](super::State::Waiting). 16 by default.
    pub active_agents: usize,
    /// Attempts of a task, counting one that a crash cut off, before it is dead-lettered.
    /// 3 by default.
    pub max_attempts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            queue: 64,
            tasks_per_agent: 1,
            active_agents: 16,
            max_attempts: 3,
        }
    }
}
