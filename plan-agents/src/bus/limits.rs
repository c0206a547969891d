//! [`BusLimits`]: how much a queue holds, how large a message may be, and how often a message is
//! tried.

use std::time::Duration;

use super::BusError;

/// The limits of every queue on a bus: each topic subscriber's and each mailbox's capacity,
/// the largest message, a delivery's ack deadline, and how many deliveries a message gets
/// before it is dead-lettered.
///
/// ```
/// use std::time::Duration;
/// use plan_agents::bus::{BusLimits, InMemory};
///
/// let limits = BusLimits {
///     capacity: 64,
///     max_message: 64 * 1024,
///     ack_deadline: Duration::from_secs(5),
///     max_deliveries: 3,
/// };
/// let bus = InMemory::with_limits(limits).unwrap();
/// # drop(bus);
/// assert!(InMemory::with_limits(BusLimits { capacity: 0, ..BusLimits::default() }).is_err());
/// assert!(InMemory::with_limits(BusLimits { max_message: 0, ..BusLimits::default() }).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusLimits {
    /// How many messages a mailbox, or a topic's subscriber, holds before a publisher waits
    /// (a mailbox counts those delivered and not yet acked). Default 1024.
    pub capacity: usize,
    /// The largest message a publish, a send, a request or a reply carries, in bytes as
    /// [`Message::size`](super::Message::size) counts them (payload, header names and
    /// values); a larger one fails with [`BusError::TooLarge`] and is not sent. Default
    /// 1 MiB (1,048,576), NATS's default `max_payload`. On NATS the server's `max_payload`
    /// applies too, when it is smaller (and counts the headers as NATS frames them: a few
    /// bytes more each).
    pub max_message: usize,
    /// How long a consumer has to ack a delivery before it is delivered again. Default 30 s.
    pub ack_deadline: Duration,
    /// How many times a message is delivered before it goes to its mailbox's dead letters.
    /// Default 5.
    pub max_deliveries: u32,
}

impl Default for BusLimits {
    fn default() -> Self {
        BusLimits {
            capacity: 1024,
            max_message: 1 << 20,
            ack_deadline: Duration::from_secs(30),
            max_deliveries: 5,
        }
    }
}

impl BusLimits {
    /// Whether a queue can keep these limits.
    pub(crate) fn check(&self) -> Result<(), BusError> {
        let reason = if self.capacity == 0 {
            "a capacity of 0 would hold no message"
        } else if self.capacity > i64::MAX as usize {
            "the capacity is larger than a stream's limit"
        } else if self.max_message == 0 {
            "a largest message of 0 bytes would carry only empty messages"
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
