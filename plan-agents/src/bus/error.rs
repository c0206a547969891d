//! How the bus fails.

use std::time::Duration;

/// Why a bus operation failed. Each error names the subject (topic, mailbox or request
/// subject) it was about, and a backend's error names the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// A topic, mailbox or subject name is not valid (see [`Name`](super::Name)).
    #[error("bad bus name `{name}`: {reason}")]
    BadName {
        /// The name, as given: whole up to 64 bytes, else its first 64 bytes, `…` and its
        /// length (`aaaa… (500000 bytes)`), so that a huge name makes a short error.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A header is not valid (see [`Message::with_header`](super::Message::with_header)).
    #[error("bad header `{name}`: {reason}")]
    BadHeader {
        /// The header's name, as given (cut short as [`BusError::BadName`]'s name is).
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// [`BusLimits`](super::BusLimits) that no queue could keep.
    #[error("bad bus limits: {reason}")]
    BadLimits {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A message larger than the bus carries: over [`BusLimits::max_message`](super::BusLimits::max_message),
    /// or over a NATS server's `max_payload` if that is smaller. Nothing was sent.
    #[error(
        "the message for `{subject}` is {size} bytes, over the bus's limit of {limit} bytes (raise `bus::BusLimits::max_message`, and a NATS server's `max_payload`, to send larger ones)"
    )]
    TooLarge {
        /// The topic, mailbox or request subject.
        subject: String,
        /// The message's size ([`Message::size`](super::Message::size)).
        size: usize,
        /// The limit it is over.
        limit: usize,
    },
    /// A value could not be written as JSON.
    #[error("cannot encode a `{type_name}` as JSON: {source}")]
    Encode {
        /// The value's type.
        type_name: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A payload is not the JSON of the type asked for.
    #[error("cannot decode the message on `{subject}` as `{type_name}`: {source}")]
    Decode {
        /// Where the message came from.
        subject: String,
        /// The type asked for.
        type_name: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A request got no reply within its deadline.
    #[error("no reply to the request on `{subject}` within {after:?}")]
    Timeout {
        /// The request subject.
        subject: String,
        /// The deadline it had.
        after: Duration,
    },
    /// Nobody serves the request subject.
    #[error("no responder serves `{subject}`")]
    NoResponders {
        /// The request subject.
        subject: String,
    },
    /// The responder that took the request dropped it without replying.
    #[error("the responder on `{subject}` dropped the request without replying")]
    Unanswered {
        /// The request subject.
        subject: String,
    },
    /// The bus this handle belongs to is gone.
    #[error("the bus of `{subject}` is closed")]
    Closed {
        /// The topic, mailbox or request subject.
        subject: String,
    },
    /// The backend failed: a server that is down, refused the operation, or did not answer
    /// in time.
    #[error("{backend} bus: {operation} `{subject}` failed: {source}")]
    Backend {
        /// Which backend (`nats`).
        backend: &'static str,
        /// What was being done (`send to`, `connect to`).
        operation: &'static str,
        /// The subject, or the server's URL for a connection.
        subject: String,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
