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
    /// The size of its state, in bytes of JSON (as the store keeps it).
    pub state_bytes: usize,
    /// Whether it is out of memory, idle
    /// ([`Builder::unload_idle_after`](super::Builder::unload_idle_after)): its status is
    /// then as it was when it left, and its record is read back when a call needs it.
    #[serde(default)]
    pub unloaded: bool,
}

/// Every agent at one moment, as [`Agents::snapshot`](super::Agents::snapshot) sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The time of the snapshot, in ms since the Unix epoch.
    pub at_ms: u64,
    /// Every agent, by name.
    pub agents: Vec<AgentStatus>,
    /// The process's resident memory, in bytes (`VmRSS` of `/proc/self/status`), where the
    /// system tells it (Linux); `None` elsewhere.
    pub resident_bytes: Option<u64>,
}

/// The process's resident memory, in bytes, where the system tells it.
pub(super) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The size of `value` in bytes of JSON, counted without writing it anywhere.
pub(super) fn json_bytes(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
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
