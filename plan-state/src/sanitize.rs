//! Sanitizers: what runs over a value, as JSON, just before it is persisted — to redact
//! secrets and cap sizes — so that neither a key nor a runaway transcript reaches the disk.
//!
//! A [`Sanitize`] changes a `serde_json::Value` in place. Closures are sanitizers, tuples of
//! sanitizers run each in turn, and three are built in:
//!
//! * [`Redact`]: the members with given names, at any depth, replaced by `"[redacted]"` (or
//!   removed, so that an `Option` field reads back as `None`);
//! * [`CapStrings`]: strings cut to a number of characters, marked with how much was cut;
//! * [`CapArrays`]: arrays cut to their last elements (the newest, in an append-only log).
//!
//! ```
//! use plan_state::sanitize::{CapArrays, CapStrings, Redact, Sanitize};
//! use serde_json::{Value, json};
//!
//! let mut state = json!({
//!     "user": { "name": "ada", "api_key": "sk-123" },
//!     "log": ["one", "two", "three"],
//!     "notes": "a very long note",
//! });
//! // In order: caps first, so that the cap does not cut `"[redacted]"` itself.
//! let sanitize = (
//!     CapStrings::new(6),
//!     CapArrays::new(2),
//!     Redact::fields(["api_key"]),
//!     |v: &mut Value| v["sanitized"] = json!(true),
//! );
//! sanitize.sanitize(&mut state);
//! assert_eq!(state, json!({
//!     "user": { "name": "ada", "api_key": "[redacted]" },
//!     "log": ["two", "three"],
//!     "notes": "a very… [10 more chars]",
//!     "sanitized": true,
//! }));
//! ```

use std::collections::BTreeSet;

use serde_json::Value;

/// Changes a value, as JSON, before it is persisted: redacts what must not be kept, caps what
/// must not grow without bound. Implemented by closures `Fn(&mut Value)`, by tuples of
/// sanitizers (which run in order), and by [`Redact`], [`CapStrings`] and [`CapArrays`].
///
/// ```
/// use plan_state::sanitize::Sanitize;
/// use serde_json::{Value, json};
///
/// /// Keeps only the first 3 facts: a sanitizer of one's own.
/// struct FirstFacts;
/// impl Sanitize for FirstFacts {
///     fn sanitize(&self, value: &mut Value) {
///         if let Some(facts) = value.get_mut("facts").and_then(Value::as_array_mut) {
///             facts.truncate(3);
///         }
///     }
/// }
///
/// let mut state = json!({ "facts": [1, 2, 3, 4] });
/// FirstFacts.sanitize(&mut state);
/// assert_eq!(state, json!({ "facts": [1, 2, 3] }));
/// ```
pub trait Sanitize: Send + Sync {
    /// Changes `value` in place.
    fn sanitize(&self, value: &mut Value);
}

impl<F: Fn(&mut Value) + Send + Sync> Sanitize for F {
    fn sanitize(&self, value: &mut Value) {
        self(value)
    }
}

macro_rules! sanitize_tuple {
    ($($s:ident),+) => {
        impl<$($s: Sanitize),+> Sanitize for ($($s,)+) {
            #[allow(non_snake_case)]
            fn sanitize(&self, value: &mut Value) {
                let ($($s,)+) = self;
                $($s.sanitize(value);)+
            }
        }
    };
}

sanitize_tuple!(A, B);
sanitize_tuple!(A, B, C);
sanitize_tuple!(A, B, C, D);
sanitize_tuple!(A, B, C, D, E);
sanitize_tuple!(A, B, C, D, E, G);

/// What replaces a redacted member's value.
///
/// ```
/// use plan_state::sanitize::{REDACTED, Redact, Sanitize};
/// let mut value = serde_json::json!({ "key": "sk-1" });
/// Redact::fields(["key"]).sanitize(&mut value);
/// assert_eq!(value["key"], REDACTED);
/// ```
pub const REDACTED: &str = "[redacted]";

/// Redacts the object members with the given names, at any depth (inside arrays too): their
/// values become `"[redacted]"` ([`REDACTED`]), or, with [`Redact::by_removing`], the members
/// are removed.
///
/// Replacing shows that something was there, which a log or a journal wants; removing lets
/// the state read back — an `Option` field as `None`, a `#[serde(default)]` field as its
/// default — where `"[redacted]"` would be taken for a real value or refused as the wrong
/// type.
///
/// ```
/// use plan_state::sanitize::{Redact, Sanitize};
/// use serde_json::json;
///
/// let mut turns = json!([{ "token": "t-1", "text": "hi" }, { "token": "t-2" }]);
/// Redact::fields(["token"]).sanitize(&mut turns);
/// assert_eq!(turns, json!([{ "token": "[redacted]", "text": "hi" }, { "token": "[redacted]" }]));
///
/// let mut user = json!({ "name": "ada", "password": "hunter2" });
/// Redact::fields(["password"]).by_removing().sanitize(&mut user);
/// assert_eq!(user, json!({ "name": "ada" }));
/// ```
#[derive(Clone, Debug)]
pub struct Redact {
    fields: BTreeSet<String>,
    remove: bool,
}

impl Redact {
    /// Redacts every member named one of `fields`.
    pub fn fields<S: Into<String>>(fields: impl IntoIterator<Item = S>) -> Self {
        Redact {
            fields: fields.into_iter().map(Into::into).collect(),
            remove: false,
        }
    }

    /// The same, removing the members instead of replacing their values.
    pub fn by_removing(self) -> Self {
        Redact {
            remove: true,
            ..self
        }
    }
}

impl Sanitize for Redact {
    fn sanitize(&self, value: &mut Value) {
        match value {
            Value::Object(members) => {
                if self.remove {
                    members.retain(|name, _| !self.fields.contains(name));
                }
                for (name, member) in members.iter_mut() {
                    if self.fields.contains(name) {
                        *member = Value::String(REDACTED.to_owned());
                    } else {
                        self.sanitize(member);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.sanitize(item)),
            _ => {}
        }
    }
}

/// Cuts every string longer than a number of characters (`char`s) to that many, followed by
/// `… [N more chars]`, at any depth. Object member names are left as they are.
///
/// ```
/// use plan_state::sanitize::{CapStrings, Sanitize};
/// use serde_json::json;
///
/// let mut notes = json!({ "short": "ok", "long": "ünïcödé text" });
/// CapStrings::new(7).sanitize(&mut notes);
/// assert_eq!(notes, json!({ "short": "ok", "long": "ünïcödé… [5 more chars]" }));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CapStrings {
    max: usize,
}

impl CapStrings {
    /// Caps strings at `max` characters.
    pub fn new(max: usize) -> Self {
        CapStrings { max }
    }
}

impl Sanitize for CapStrings {
    fn sanitize(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                // The byte offset of the first character past the cap, if there is one.
                if let Some((cut, _)) = text.char_indices().nth(self.max) {
                    let more = text[cut..].chars().count();
                    text.truncate(cut);
                    text.push_str(&format!("… [{more} more chars]"));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.sanitize(item)),
            Value::Object(members) => members.values_mut().for_each(|m| self.sanitize(m)),
            _ => {}
        }
    }
}

/// Cuts every array longer than a number of elements to its last that many, at any depth:
/// in an append-only log, the newest. (An array's elements are usually of one type, so no
/// marker is added; count what was dropped in the state itself if it matters, as
/// [`Episodes`](crate::memory::Episodes) does.)
///
/// ```
/// use plan_state::sanitize::{CapArrays, Sanitize};
/// use serde_json::json;
///
/// let mut log = json!({ "turns": [1, 2, 3, 4, 5], "tags": ["a"] });
/// CapArrays::new(3).sanitize(&mut log);
/// assert_eq!(log, json!({ "turns": [3, 4, 5], "tags": ["a"] }));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CapArrays {
    max: usize,
}

impl CapArrays {
    /// Caps arrays at their last `max` elements.
    pub fn new(max: usize) -> Self {
        CapArrays { max }
    }
}

impl Sanitize for CapArrays {
    fn sanitize(&self, value: &mut Value) {
        match value {
            Value::Array(items) => {
                let excess = items.len().saturating_sub(self.max);
                items.drain(..excess);
                items.iter_mut().for_each(|item| self.sanitize(item));
            }
            Value::Object(members) => members.values_mut().for_each(|m| self.sanitize(m)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_reaches_every_depth_and_leaves_other_members() {
        let mut value = json!({
            "secret": { "secret": 1 },
            "list": [[{ "secret": [1, 2] }], "secret"],
            "kept": { "not_secret": "x" },
        });
        Redact::fields(["secret"]).sanitize(&mut value);
        assert_eq!(
            value,
            json!({
                "secret": "[redacted]",
                "list": [[{ "secret": "[redacted]" }], "secret"],
                "kept": { "not_secret": "x" },
            })
        );
        Redact::fields(["secret", "not_secret"])
            .by_removing()
            .sanitize(&mut value);
        assert_eq!(value, json!({ "list": [[{}], "secret"], "kept": {} }));
    }

    #[test]
    fn caps_keep_what_fits_and_cut_at_character_boundaries() {
        let mut value = json!(["abc", "abcd", "日本語テキスト", 7, null]);
        CapStrings::new(3).sanitize(&mut value);
        assert_eq!(
            value,
            json!([
                "abc",
                "abc… [1 more chars]",
                "日本語… [4 more chars]",
                7,
                null
            ])
        );
        let mut empty = json!("x");
        CapStrings::new(0).sanitize(&mut empty);
        assert_eq!(empty, json!("… [1 more chars]"));

        let mut nested = json!([[1, 2, 3], [4], 5, 6]);
        CapArrays::new(2).sanitize(&mut nested);
        assert_eq!(nested, json!([5, 6]));
        let mut inner = json!({ "a": [[1, 2, 3]] });
        CapArrays::new(2).sanitize(&mut inner);
        assert_eq!(inner, json!({ "a": [[2, 3]] }));
        CapArrays::new(0).sanitize(&mut inner);
        assert_eq!(inner, json!({ "a": [] }));
    }
}
