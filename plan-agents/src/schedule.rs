//! [`Schedule`]: when an agent's recurring task comes due: every so often, or on a cron
//! pattern.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::echo;

/// When a recurring task comes due: every `period`, or at the times a cron pattern names.
///
/// Cron patterns have five fields (minute, hour, day of month, month, day of week) or six (a
/// first one for seconds), with lists, ranges, steps, names (`MON`, `JAN`) and `L`/`W`/`#`,
/// as [croner](https://docs.rs/croner) reads them, always in UTC.
///
/// ```
/// use std::time::Duration;
/// use plan_agents::schedule::Schedule;
///
/// let every_minute = Schedule::every(Duration::from_secs(60)).unwrap();
/// assert_eq!(every_minute.next_after(90_000), Some(150_000));
///
/// // 09:30 UTC on weekdays; the first after Thursday 1 January 1970, 00:00, is 09:30 that day.
/// let standup = Schedule::cron("30 9 * * MON-FRI").unwrap();
/// assert_eq!(standup.next_after(0), Some(9 * 3_600_000 + 30 * 60_000));
/// assert!(Schedule::cron("61 * * * *").is_err()); // there is no minute 61
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Spec", into = "Spec")]
pub struct Schedule {
    spec: Spec,
    /// The parsed pattern, for a cron schedule.
    cron: Option<Cron>,
}

/// A schedule as it is written and stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Spec {
    /// Milliseconds between runs, the first one period after the schedule is set.
    EveryMs(u64),
    /// A cron pattern.
    Cron(String),
}

/// Why a schedule is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A period of zero, or one too long to count in milliseconds.
    #[error("a schedule's period must be between 1 ms and 2^64 ms, not {0:?}")]
    Period(Duration),
    /// A cron pattern that does not parse.
    #[error("bad cron pattern `{pattern}`: {reason}")]
    Cron {
        /// The pattern (whole up to 64 bytes, else its start, `…` and its length).
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Schedule {
    /// Every `period`, from when the schedule is set.
    pub fn every(period: Duration) -> Result<Self, ScheduleError> {
        match u64::try_from(period.as_millis()) {
            Ok(ms) if ms > 0 => Spec::EveryMs(ms).try_into(),
            _ => Err(ScheduleError::Period(period)),
        }
    }

    /// At the times the cron `pattern` names, in UTC.
    pub fn cron(pattern: &str) -> Result<Self, ScheduleError> {
        Spec::Cron(pattern.to_owned()).try_into()
    }

    /// The first time the schedule names strictly after `after`, both in milliseconds since
    /// the Unix epoch; `None` if there is none (a pattern for 30 February, a time past what
    /// dates can hold).
    pub fn next_after(&self, after: u64) -> Option<u64> {
        match (&self.spec, &self.cron) {
            (Spec::EveryMs(period), _) => after.checked_add(*period),
            (Spec::Cron(_), Some(cron)) => {
                // Cron names whole seconds: the search starts from the second `after` is in
                // (croner would keep its milliseconds).
                let second = after - after % 1_000;
                let after = DateTime::<Utc>::from_timestamp_millis(i64::try_from(second).ok()?)?;
                let next = cron.find_next_occurrence(&after, false).ok()?;
                u64::try_from(next.timestamp_millis()).ok()
            }
            (Spec::Cron(_), None) => None,
        }
    }
}

/// How many of a cron pattern's next times [`Schedule::gap_under`] looks at: enough to see
/// each gap of the seconds and minutes fields of any pattern that fires more often than once
/// a minute somewhere.
const GAPS_SEEN: usize = 64;

/// The finest a cron pattern can name: a pattern never comes due twice within a second.
const CRON_RESOLUTION: Duration = Duration::from_secs(1);

impl Schedule {
    /// A time between two runs shorter than `min`, if there is one: the period, or the
    /// shortest gap found between a cron pattern's next [`GAPS_SEEN`] times after `from` (ms
    /// since the Unix epoch).
    ///
    /// A cron pattern is not looked at for a `min` of a second or less, which none can break:
    /// finding the next times of a pattern that rarely comes due (`0 0 0 29 2 *`) can take
    /// croner most of a second each.
    pub(crate) fn gap_under(&self, min: Duration, from: u64) -> Option<Duration> {
        if let Spec::EveryMs(period) = self.spec {
            let period = Duration::from_millis(period);
            return (period < min).then_some(period);
        }
        if min <= CRON_RESOLUTION {
            return None;
        }
        let mut last = self.next_after(from)?;
        for _ in 1..GAPS_SEEN {
            let next = self.next_after(last)?;
            let gap = Duration::from_millis(next - last);
            if gap < min {
                return Some(gap);
            }
            last = next;
        }
        None
    }

    /// The next time after `now` of a schedule that was due at `due` (at or before `now`):
    /// counted from `due` for a period, so that a late timer does not shift the times after.
    pub(crate) fn following(&self, due: u64, now: u64) -> Option<u64> {
        match self.spec {
            Spec::EveryMs(period) => {
                let periods = now.saturating_sub(due) / period + 1;
                due.checked_add(periods.checked_mul(period)?)
            }
            Spec::Cron(_) => self.next_after(now),
        }
    }
}

impl TryFrom<Spec> for Schedule {
    type Error = ScheduleError;

    fn try_from(spec: Spec) -> Result<Self, ScheduleError> {
        let cron = match &spec {
            Spec::EveryMs(0) => return Err(ScheduleError::Period(Duration::ZERO)),
            Spec::EveryMs(_) => None,
            Spec::Cron(pattern) => {
                Some(Cron::from_str(pattern).map_err(|e| ScheduleError::Cron {
                    pattern: echo::name(pattern),
                    reason: echo::reason(&e.to_string()),
                })?)
            }
        };
        Ok(Schedule { spec, cron })
    }
}

impl From<Schedule> for Spec {
    fn from(schedule: Schedule) -> Spec {
        schedule.spec
    }
}

/// Two schedules are equal when they are written the same.
impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Eq for Schedule {}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spec {
            Spec::EveryMs(ms) => write!(f, "every {ms} ms"),
            Spec::Cron(pattern) => write!(f, "cron `{pattern}`"),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_stored_as_written_and_read_back_checked() {
        let cron = Schedule::cron("*/5 * * * * *").unwrap();
        let json = serde_json::to_value(&cron).unwrap();
        assert_eq!(json, serde_json::json!({ "cron": "*/5 * * * * *" }));
        let back: Schedule = serde_json::from_value(json).unwrap();
        assert_eq!(back.next_after(1_000), Some(5_000));
        let bad = serde_json::from_value::<Schedule>(serde_json::json!({ "every_ms": 0 }));
        assert!(bad.unwrap_err().to_string().contains("between 1 ms"));
        let bad = serde_json::from_value::<Schedule>(serde_json::json!({ "cron": "x" }));
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("bad cron pattern `x`")
        );
    }
}
