//! [`State`], where an agent is, and [`Sleep`] and [`Wake`]: how it sleeps and what woke it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Where an agent is. Every change is an [`AgentEvent::State`](super::AgentEvent::State).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Awake, with nothing queued or running.
    Idle,
    /// Running at least one task.
    Active,
    /// Asleep: queued tasks wait until something in its [`Sleep`] wakes it (tasks already
    /// running finish).
    Sleeping,
    /// Awake with tasks queued, but not running any because as many agents as
    /// [`AgentLimits::active_agents`](super::AgentLimits::active_agents) allows are active; it runs
    /// once one of them is done, first come first served.
    Waiting,
    /// Stopped for good: it runs nothing more.
    Stopped,
}

impl State {
    /// The state's name: `idle`, `active`, `sleeping`, `waiting` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Active => "active",
            State::Sleeping => "sleeping",
            State::Waiting => "waiting",
            State::Stopped => "stopped",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an agent sleeps: until a time, until one of some named events
/// ([`Agents::signal`](super::Agents::signal)), until mail at or above a priority, or until
/// it is woken ([`Agents::wake`](super::Agents::wake)), whichever comes first. A task that
/// a [schedule](super::Agents::every) queues wakes it too.
///
/// ```
/// use std::time::Duration;
/// use plan_agents::session::Sleep;
///
/// let nap = Sleep::for_(Duration::from_secs(600)).or_event("health-alert").or_mail(5);
/// assert_eq!(nap.events, ["health-alert"]);
/// assert_eq!(nap.mail, Some(5));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sleep {
    /// Wake after this long, counted from when the agent falls asleep.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "millis")]
    pub duration: Option<Duration>,
    /// Wake at this time, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// Wake on any of these events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Wake on mail of at least this priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<u8>,
    /// Wake once fewer than this many tasks run in the process, over all its agents
    /// ([`Sleep::until_room`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<usize>,
}

impl Sleep {
    /// Until woken, by [`Agents::wake`](super::Agents::wake) or whatever is added.
    pub fn indefinitely() -> Self {
        Sleep::default()
    }

    /// For `duration` from when the agent falls asleep.
    pub fn for_(duration: Duration) -> Self {
        Sleep {
            duration: Some(duration),
            ..Sleep::default()
        }
    }

    /// Until `time` (a time already past wakes the agent at once).
    pub fn until(time: SystemTime) -> Self {
        let ms = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Sleep {
            until_ms: Some(ms),
            ..Sleep::default()
        }
    }

    /// Or until the event `event` is signalled.
    pub fn or_event(mut self, event: impl Into<String>) -> Self {
        self.events.push(event.into());
        self
    }

    /// Or until mail of priority `priority` or more arrives.
    pub fn or_mail(mut self, priority: u8) -> Self {
        self.mail = Some(priority);
        self
    }

    /// Until the system has room: fewer than `below` tasks running in the process, over all
    /// its agents. Agents sleeping for room wake in the order they fell asleep (after a
    /// restart, in the order of their names), one for each task's worth of room, and never
    /// while `below` or more tasks run.
    ///
    /// ```
    /// use plan_agents::session::Sleep;
    ///
    /// let polite = Sleep::until_room(4).or_event("urgent");
    /// assert_eq!(polite.room, Some(4));
    /// ```
    pub fn until_room(below: usize) -> Self {
        Sleep {
            room: Some(below),
            ..Sleep::default()
        }
    }

    /// Or until the system has room ([`Sleep::until_room`]).
    pub fn or_room(mut self, below: usize) -> Self {
        self.room = Some(below);
        self
    }

    /// When the agent wakes by itself, in ms since the epoch, if it falls asleep at `now`.
    pub(crate) fn wake_at(&self, now: u64) -> Option<u64> {
        let after = self
            .duration
            .map(|d| now.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
        match (after, self.until_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// `Option<Duration>` as whole milliseconds, the unit of every time an agent's record keeps.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// What woke a sleeping agent, in its [`AgentEvent::State`](super::AgentEvent::State).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Wake {
    /// Its time came.
    Timer,
    /// An event it sleeps on was signalled.
    Event {
        /// The event.
        event: String,
    },
    /// Mail at or above its priority arrived.
    Mail {
        /// The mail's priority.
        priority: u8,
    },
    /// A schedule queued a task.
    Schedule {
        /// The task's name.
        task: String,
    },
    /// [`Agents::wake`](super::Agents::wake).
    Request,
    /// The system had room ([`Sleep::until_room`]): fewer tasks ran than it waited for.
    Room {
        /// Tasks running when it woke.
        running: usize,
    },
}

impl fmt::Display for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wake::Timer => f.write_str("its timer"),
            Wake::Event { event } => write!(f, "the event `{event}`"),
            Wake::Mail { priority } => write!(f, "mail of priority {priority}"),
            Wake::Schedule { task } => write!(f, "the schedule of `{task}`"),
            Wake::Request => f.write_str("a request"),
            Wake::Room { running } => write!(f, "room ({running} tasks running)"),
        }
    }
}
