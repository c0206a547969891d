//! Keys, validated: no path can escape a store's directory through one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A store key: 1 to 200 bytes of ASCII letters, digits, `_`, `-`, `.` and `:`, in segments
/// separated by `/`; no segment is empty, `.` or `..`, and none starts with `.` (a JSON
/// store's temporary files do).
///
/// ```
/// use plan_state::store::Key;
/// assert!(Key::new("agents/ada/beliefs").is_ok());
/// for bad in ["", "../etc/passwd", "a//b", "/abs", "a/./b", "a/.hidden", "ünï", "a\\b"] {
///     assert!(Key::new(bad).is_err(), "{bad}");
/// }
/// ```
///
/// It is serialized as its text, and checked as it is deserialized, so that a key read from
/// a journal, a message or a file is as valid as one made with [`Key::new`]:
///
/// ```
/// use plan_state::store::Key;
/// let key: Key = serde_json::from_str(r#""agents/ada""#).unwrap();
/// assert_eq!(serde_json::to_string(&key).unwrap(), r#""agents/ada""#);
/// let err = serde_json::from_str::<Key>(r#""../etc/passwd""#).unwrap_err();
/// assert!(err.to_string().contains("bad store key `../etc/passwd`"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Key(String);

/// The longest key, in bytes.
const MAX_LEN: usize = 200;

impl Key {
    /// `key`, if it is a valid key; else why not.
    pub fn new(key: impl Into<String>) -> Result<Self, super::StoreError> {
        let key = key.into();
        let bad = |reason: &str| super::StoreError::BadKey {
            key: key.chars().take(MAX_LEN).collect(),
            reason: reason.to_owned(),
        };
        if key.is_empty() || key.len() > MAX_LEN {
            return Err(bad("a key is 1 to 200 bytes"));
        }
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b))
        {
            return Err(bad(
                "a key holds only ASCII letters, digits and `_ - . : /`",
            ));
        }
        if key
            .split('/')
            .any(|segment| segment.is_empty() || segment.starts_with('.'))
        {
            return Err(bad(
                "every `/`-separated segment is non-empty and does not start with `.`",
            ));
        }
        Ok(Key(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Key {
    type Error = super::StoreError;

    fn try_from(key: String) -> Result<Self, Self::Error> {
        Key::new(key)
    }
}

impl From<Key> for String {
    fn from(key: Key) -> Self {
        key.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
