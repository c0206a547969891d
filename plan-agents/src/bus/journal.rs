//! [`Message`] and [`Name`] as serde values, so that a message can be journaled by a durable
//! run, stored, or carried inside another one — and read back only as a valid message: a name
//! is checked as [`Name::new`] checks it, headers as [`Message::with_header`] checks them.
//!
//! The payload is written as text when it is UTF-8 (JSON payloads stay readable), else as an
//! array of bytes.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Message, Name};

/// A payload as it is written.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Payload {
    Text(String),
    Bytes(Vec<u8>),
}

/// A message as it is written.
#[derive(Serialize, Deserialize)]
struct MessageForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<Name>,
    payload: Payload,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    priority: u8,
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A name read back is checked as [`Name::new`] checks it.
///
/// ```
/// use plan_agents::bus::Name;
///
/// let name: Name = serde_json::from_str(r#""agent-ada""#).unwrap();
/// assert_eq!(serde_json::to_string(&name).unwrap(), r#""agent-ada""#);
/// assert!(serde_json::from_str::<Name>(r#""agents.ada""#).is_err());
/// ```
impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Name::new(&name).map_err(D::Error::custom)
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let payload = match std::str::from_utf8(&self.payload) {
            Ok(text) => Payload::Text(text.to_owned()),
            Err(_) => Payload::Bytes(self.payload.to_vec()),
        };
        MessageForm {
            subject: self.subject.clone(),
            payload,
            headers: self.headers.clone(),
            priority: self.priority,
        }
        .serialize(serializer)
    }
}

/// A message read back has its headers checked as [`Message::with_header`] checks them.
///
/// ```
/// use plan_agents::bus::Message;
///
/// let message = Message::json(&[1, 2]).unwrap().with_header("trace", "a1").unwrap().with_priority(9);
/// let written = serde_json::to_string(&message).unwrap();
/// assert_eq!(written, r#"{"payload":"[1,2]","headers":{"trace":"a1"},"priority":9}"#);
/// assert_eq!(serde_json::from_str::<Message>(&written).unwrap(), message);
/// // The bus's own headers cannot be smuggled in.
/// let forged = r#"{"payload":"","headers":{"Plan-Priority":"255"}}"#;
/// assert!(serde_json::from_str::<Message>(forged).is_err());
/// ```
impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = MessageForm::deserialize(deserializer)?;
        let payload = match form.payload {
            Payload::Text(text) => Bytes::from(text),
            Payload::Bytes(bytes) => Bytes::from(bytes),
        };
        let mut message = Message::new(payload).with_priority(form.priority);
        for (name, value) in form.headers {
            message = message.with_header(name, value).map_err(D::Error::custom)?;
        }
        message.subject = form.subject;
        Ok(message)
    }
}
