//! [`DeadLetter`]: a message that ran out of deliveries.

use super::Message;

/// A message that was delivered [`BusLimits::max_deliveries`](super::BusLimits::max_deliveries)
/// times without an ack, kept aside in its mailbox's dead letters until it is replayed
/// ([`Bus::replay_dead_letters`](super::Bus::replay_dead_letters)). It is serde, so that
/// dead letters can be kept aside in a store or reported.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    /// The message, as it was sent (its subject is the mailbox).
    pub message: Message,
    /// How many times it was delivered.
    pub deliveries: u32,
    /// How its last delivery failed.
    pub failure: Failure,
}

/// How a delivery failed (serde as the word [`Failure::as_str`] gives).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The consumer nacked it.
    Nacked,
    /// The consumer dropped it without acking (its task panicked or was cancelled, say).
    Dropped,
    /// The ack deadline passed (the consumer was too slow, hung, or its process died).
    Expired,
}

impl Failure {
    /// The failure as a word, for headers and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Nacked => "nacked",
            Failure::Dropped => "dropped",
            Failure::Expired => "expired",
        }
    }

    /// The failure named by [`Failure::as_str`].
    #[cfg(feature = "nats")]
    pub(crate) fn parse(word: &str) -> Option<Self> {
        [Failure::Nacked, Failure::Dropped, Failure::Expired]
            .into_iter()
            .find(|f| f.as_str() == word)
    }
}
