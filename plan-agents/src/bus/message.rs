//! [`Message`]: bytes or a serde value, with headers and a priority.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{BusError, Name};
use crate::echo;

/// What the bus carries: a payload of bytes (a serde value as JSON, with [`Message::json`]),
/// headers, and a priority.
///
/// The priority (0, the default, to 255, most urgent) travels with the message and does not
/// reorder a queue: mailboxes stay first in, first out, on every backend alike. It is there so
/// that a receiver can tell urgent mail from the rest (and wake for it).
///
/// A message is serde itself (its subject, payload, headers and priority), so that a durable
/// run can journal one and a store keep it.
///
/// ```
/// use plan_agents::bus::Message;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Task { id: u32 }
///
/// let message = Message::json(&Task { id: 7 })
///     .unwrap()
///     .with_header("trace", "a1b2")
///     .unwrap()
///     .with_priority(200);
/// assert_eq!(message.decode::<Task>().unwrap(), Task { id: 7 });
/// assert_eq!((message.header("trace"), message.priority()), (Some("a1b2"), 200));
/// // Bytes that are not the type asked for are an error, not a panic.
/// assert!(Message::new("not json").decode::<Task>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub(super) subject: Option<Name>,
    pub(super) payload: Bytes,
    pub(super) headers: BTreeMap<String, String>,
    pub(super) priority: u8,
}

/// Header names that the bus and NATS use themselves (`Plan-Priority`, `Nats-Msg-Id`).
const RESERVED: [&str; 2] = ["plan-", "nats-"];

impl Message {
    /// A message with `payload`, no headers and priority 0.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Message {
            payload: payload.into(),
            ..Message::default()
        }
    }

    /// A message whose payload is `value` as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, BusError> {
        let payload = serde_json::to_vec(value).map_err(|source| BusError::Encode {
            type_name: std::any::type_name::<T>(),
            source,
        })?;
        Ok(Message::new(payload))
    }

    /// The message with the header `name: value` (replacing one of that name).
    ///
    /// A name is 1 to 64 visible ASCII characters other than `:`; names starting with
    /// `Plan-` or `Nats-` (in any case) are the bus's own. A value is one line.
    pub fn with_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, BusError> {
        let (name, value) = (name.into(), value.into());
        let reason = if name.is_empty() || name.len() > 64 {
            Some("a header name is 1 to 64 characters")
        } else if !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            Some("a header name is visible ASCII without `:`")
        } else if RESERVED
            .iter()
            .any(|prefix| name.to_ascii_lowercase().starts_with(prefix))
        {
            Some("headers starting with `Plan-` or `Nats-` are the bus's own")
        } else if value.contains(['\r', '\n']) {
            Some("a header value is one line")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(BusError::BadHeader {
                name: echo::name(&name),
                reason: reason.to_owned(),
            });
        }
        self.headers.insert(name, value);
        Ok(self)
    }

    /// The message with priority `priority` (0 to 255, higher is more urgent).
    pub fn with_priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Where the message was sent: its topic, mailbox or request subject (`None` until it is).
    pub fn subject(&self) -> Option<&Name> {
        self.subject.as_ref()
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The header `name`, if there is one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Every header, by name.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The priority: 0 (the default) to 255, most urgent.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// The message's size, as [`BusLimits::max_message`](super::BusLimits::max_message) counts
    /// it: the payload's bytes and those of each header's name and value.
    ///
    /// ```
    /// use plan_agents::bus::Message;
    ///
    /// let message = Message::new("hello").with_header("trace", "a1").unwrap();
    /// assert_eq!(message.size(), 5 + 5 + 2);
    /// ```
    pub fn size(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        self.payload.len().saturating_add(headers)
    }

    /// Fails with [`BusError::TooLarge`] if the message is larger than `limit`, for
    /// `subject`.
    pub(crate) fn fits(&self, subject: &Name, limit: usize) -> Result<(), BusError> {
        let size = self.size();
        if size > limit {
            return Err(BusError::TooLarge {
                subject: subject.to_string(),
                size,
                limit,
            });
        }
        Ok(())
    }

    /// The payload read as JSON into a `T`; an error names the subject and the type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, BusError> {
        serde_json::from_slice(&self.payload).map_err(|source| BusError::Decode {
            subject: self
                .subject
                .as_ref()
                .map_or_else(|| "(unsent)".to_owned(), Name::to_string),
            type_name: std::any::type_name::<T>(),
            source,
        })
    }

    /// The message as sent to `subject`: backends stamp what they deliver.
    pub(crate) fn sent_to(mut self, subject: &Name) -> Self {
        if self.subject.as_ref() != Some(subject) {
            self.subject = Some(subject.clone());
        }
        self
    }

    /// A message as a backend received it, its headers already free of the bus's own.
    #[cfg(feature = "nats")]
    pub(crate) fn received(
        subject: &Name,
        payload: Bytes,
        headers: BTreeMap<String, String>,
        priority: u8,
    ) -> Self {
        Message {
            subject: Some(subject.clone()),
            payload,
            headers,
            priority,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_that_would_break_a_protocol_or_shadow_the_bus_are_refused() {
        for (name, value) in [
            ("", "v"),
            ("a b", "v"),
            ("a:b", "v"),
            ("Plan-Priority", "9"),
            ("nats-msg-id", "x"),
            ("ok", "two\r\nlines"),
        ] {
            let err = Message::new("").with_header(name, value).unwrap_err();
            assert!(err.to_string().starts_with("bad header"), "{name}: {err}");
        }
    }

    #[test]
    fn a_decode_error_names_the_subject_and_the_type() {
        let message = Message::new("{").sent_to(&Name::new("inbox").unwrap());
        let err = message.decode::<Vec<u32>>().unwrap_err().to_string();
        assert!(
            err.starts_with("cannot decode the message on `inbox` as `alloc::vec::Vec<u32>`"),
            "{err}"
        );
    }
}
