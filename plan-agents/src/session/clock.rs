//! [`Clock`]: wall-clock time that follows tokio's clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Wall-clock time in milliseconds since the Unix epoch, read as the time the agents started
/// plus tokio's elapsed time. Wake times and schedules are kept in wall-clock time, so that
/// they mean the same after a restart; counting from tokio's clock keeps them exact on a
/// paused clock in tests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    started: Instant,
    started_ms: u64,
}

impl Clock {
    /// A clock that reads `now` at this instant of tokio's clock.
    pub fn starting_at(now: SystemTime) -> Self {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Clock {
            started: Instant::now(),
            started_ms: u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Now, in ms since the epoch.
    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.started_ms.saturating_add(elapsed)
    }

    /// The instant of tokio's clock at which it is `ms` (now, for a time past).
    pub fn instant_at(&self, ms: u64) -> Instant {
        let after = Duration::from_millis(ms.saturating_sub(self.started_ms));
        self.started
            .checked_add(after)
            // Centuries away: a day from now stands in; the timer is re-armed when it fires.
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
    }
}
