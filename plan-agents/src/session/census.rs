//! [`Census`]: how many agents there are, in all and of each kind, held to
//! [`AgentLimits::agents`] and the kinds' limits.

use std::collections::{BTreeMap, HashMap};

use super::engine::lock;
use super::{AgentLimits, SessionError};
use crate::echo;

/// The count of agents, places taken by agents being created included.
pub(crate) struct Census {
    total: usize,
    limit: usize,
    kinds: HashMap<String, usize>,
    /// The kinds with a limit of their own ([`Builder::kind_limit`](super::Builder::kind_limit)).
    kind_limits: BTreeMap<String, usize>,
}

impl Census {
    pub fn new(limits: &AgentLimits, kind_limits: BTreeMap<String, usize>) -> Self {
        Census {
            total: 0,
            limit: limits.agents,
            kinds: HashMap::new(),
            kind_limits,
        }
    }

    /// Counts an agent restored from the store, whatever the limits say.
    pub fn restore(&mut self, kind: &str) {
        self.total += 1;
        *self.kinds.entry(kind.to_owned()).or_default() += 1;
    }

    /// Takes a place for agent `agent` of kind `kind`, if the limits leave one; it is given
    /// back with [`Census::give_back`] if the agent is not created after all.
    pub fn take(&mut self, agent: &str, kind: &str) -> Result<(), SessionError> {
        if self.total >= self.limit {
            return Err(SessionError::TooManyAgents {
                agent: echo::name(agent),
                limit: self.limit,
            });
        }
        let of_kind = self.kinds.get(kind).copied().unwrap_or(0);
        let kind_limit = self.kind_limits.get(kind).copied().unwrap_or(self.limit);
        if of_kind >= kind_limit {
            return Err(SessionError::KindFull {
                agent: echo::name(agent),
                kind: echo::name(kind),
                limit: kind_limit,
            });
        }
        self.restore(kind);
        Ok(())
    }

    /// Gives back the place [`Census::take`] took for an agent of kind `kind`.
    pub fn give_back(&mut self, kind: &str) {
        self.total -= 1;
        if let Some(count) = self.kinds.get_mut(kind) {
            *count -= 1;
        }
    }
}

/// A place [`Census::take`] took, given back when dropped unless [`Place::keep`] says the
/// agent was created: a create that fails, or is cancelled, leaves the count as it was.
pub(crate) struct Place<'a> {
    census: &'a std::sync::Mutex<Census>,
    kind: &'a str,
    kept: bool,
}

impl<'a> Place<'a> {
    /// Takes a place in `census` for agent `agent` of kind `kind`.
    pub fn take(
        census: &'a std::sync::Mutex<Census>,
        agent: &str,
        kind: &'a str,
    ) -> Result<Self, SessionError> {
        lock(census).take(agent, kind)?;
        Ok(Place {
            census,
            kind,
            kept: false,
        })
    }

    /// The agent is created: the place stays taken.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.kept {
            lock(self.census).give_back(self.kind);
        }
    }
}
