//! Answers kept to [`Control::max_response`](super::Control::max_response): each response is
//! measured as it is serialized, into a buffer that never grows past what is left of the limit.

use std::io;

use serde_json::Value;

use super::rpc::{self, RpcError};

/// The text of one response, or its `too_large` error if it is over `limit` bytes.
pub(super) fn single(response: Value, limit: usize) -> String {
    bounded(&response, limit).unwrap_or_else(|| {
        let id = response.get("id").cloned().unwrap_or(Value::Null);
        rpc::response(id, Err(RpcError::too_large(limit, false))).to_string()
    })
}

/// A batch's answer, an array of responses in the order of its calls.
pub(super) struct Batch {
    text: String,
    limit: usize,
    /// Whether an answer did not fit: the calls after it are not run.
    full: bool,
}

impl Batch {
    pub fn new(limit: usize) -> Self {
        Batch {
            text: String::new(),
            limit,
            full: false,
        }
    }

    /// Whether the answers reached the limit, so that the batch's other calls are not run.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Adds a call's response, or, if it would take the answer over the limit, its
    /// `too_large` error instead (and the batch is full).
    pub fn push(&mut self, response: Value) {
        // The room left for it: after a `[` or a `,`, and before the closing `]`.
        let room = self.limit.saturating_sub(self.text.len() + 2);
        match bounded(&response, room) {
            Some(text) => self.append(&text),
            None => {
                self.full = true;
                let id = response.get("id").cloned().unwrap_or(Value::Null);
                self.append(
                    &rpc::response(id, Err(RpcError::too_large(self.limit, true))).to_string(),
                );
            }
        }
    }

    /// Adds a response past the limit: an error, one per call at most, so a batch's answer
    /// is at most the limit and one short error (with its id) for each call not answered.
    pub fn push_error(&mut self, response: Value) {
        self.append(&response.to_string());
    }

    fn append(&mut self, text: &str) {
        self.text.push(if self.text.is_empty() { '[' } else { ',' });
        self.text.push_str(text);
    }

    /// The answer, or none if every call was a notification.
    pub fn finish(mut self) -> Option<String> {
        (!self.text.is_empty()).then(|| {
            self.text.push(']');
            self.text
        })
    }
}

/// `value` as JSON text, if that takes at most `limit` bytes; serializing stops as soon as it
/// passes the limit.
fn bounded(value: &Value, limit: usize) -> Option<String> {
    let mut out = Capped {
        bytes: Vec::new(),
        room: limit,
    };
    serde_json::to_writer(&mut out, value).ok()?;
    // serde_json writes UTF-8.
    String::from_utf8(out.bytes).ok()
}

/// A buffer that refuses to hold more than `room` bytes.
struct Capped {
    bytes: Vec<u8>,
    room: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.room {
            return Err(io::Error::other("over the limit"));
        }
        self.room -= buf.len();
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
