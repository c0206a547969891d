//! [`Name`]: what a topic, a mailbox or a request subject is called.

use std::fmt;
use std::sync::Arc;

use super::BusError;
use crate::echo;

/// The name of a topic, a mailbox or a request subject: 1 to 64 ASCII letters, digits, `-`
/// and `_` (`agent-ada`, `plans_done`).
///
/// The alphabet is the one a NATS subject token and a JetStream stream name share, so a name
/// is used as it is in both, with no escaping that two names could collide in. Every message
/// carries its subject's name, so cloning one is a reference count, not a copy.
///
/// ```
/// use plan_agents::bus::Name;
///
/// assert_eq!(Name::new("agent-ada").unwrap().as_str(), "agent-ada");
/// assert!(Name::new("agents.ada").is_err()); // a dot would be two NATS tokens
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

/// Long enough for any agent's name, short enough for a stream name with a prefix.
const MAX_LEN: usize = 64;

impl Name {
    /// The name `name`, if it is valid.
    pub fn new(name: &str) -> Result<Self, BusError> {
        let bad = |reason: &str| BusError::BadName {
            name: echo::name(name),
            reason: reason.to_owned(),
        };
        if name.is_empty() {
            return Err(bad("it is empty"));
        }
        if name.len() > MAX_LEN {
            return Err(bad("it is longer than 64 bytes"));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(bad(&format!(
                "`{}` is not an ASCII letter, digit, `-` or `_`",
                c.escape_default()
            )));
        }
        Ok(Name(name.into()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_not_be_one_nats_token_are_refused() {
        for bad in ["", "a.b", "a b", "a*", ">", "ä", "a/b", &"x".repeat(65)] {
            let err = Name::new(bad).unwrap_err();
            assert!(err.to_string().starts_with("bad bus name"), "{bad}: {err}");
        }
        assert_eq!(Name::new(&"x".repeat(64)).unwrap().as_str().len(), 64);
    }
}
