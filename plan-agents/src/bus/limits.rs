//! [`Limits`]: how much a queue holds and how often a message is tried.

use std::time::Duration;

use super::BusError;

/// The limits of every queue on a bus: each topic subscriber's and each mailbox's capacity,
/// a delivery's ack deadline, and how many deliveries a message gets before it is
/// dead-lettered.
///
/// ```
/// use std::time::Duration;
/// use plan_agents::bus::{Limits, Memory};
///
/// let limits = Limits { capacity: 64, ack_deadline: Duration::from_secs(5), max_deliveries: 3 };
/// let bus = Memory::with_limits(limits).unwrap();
/// # drop(bus);
/// assert!(Memory::with_limits(Limits { capacity: 0, ..Limits::default() }).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How many messages a mailbox, or a topic's subscriber, holds before a publisher waits
    /// (a mailbox counts those delivered and not yet acked). Default 1024.
    pub capacity: usize,
    /// How long a consumer has to ack a delivery before it is delivered again. Default 30 s.
    pub ack_deadline: Duration,
    /// How many times a message is delivered before it goes to its mailbox's dead letters.
    /// Default 5.
    pub max_deliveries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            capacity: 1024,
            ack_deadline: Duration::from_secs(30),
            max_deliveries: 5,
        }
    }
}

impl Limits {
    /// Whether a queue can keep these limits.
    pub(crate) fn check(&self) -> Result<(), BusError> {
        let reason = if self.capacity == 0 {
            "a capacity of 0 would hold no message"
        } else if self.capacity > i64::MAX as usize {
            "the capacity is larger than a stream's limit"
        } else if self.ack_deadline < Duration::from_millis(1) {
            "an ack deadline under 1 ms would expire every delivery"
        } else if self.max_deliveries == 0 {
            "0 deliveries would deliver nothing"
        } else {
            return Ok(());
        };
        Err(BusError::BadLimits { reason })
    }
}
