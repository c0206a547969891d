//! [`Active`]: the limit on agents running tasks at once, handed out first come first served.

use std::collections::{HashMap, HashSet, VecDeque};

/// Slots for active agents. An agent takes one while it runs tasks; an agent that finds none
/// free queues, and a slot given back goes straight to the first in the queue, so that no
/// newcomer overtakes an agent that has waited.
#[derive(Debug)]
pub(crate) struct Active {
    used: usize,
    limit: usize,
    /// Agents waiting, with the ticket each took when it queued.
    queue: VecDeque<(String, u64)>,
    /// Each waiting agent's current ticket: an entry of `queue` with another is stale.
    queued: HashMap<String, u64>,
    tickets: u64,
    /// Agents handed a slot that they have not taken yet.
    granted: HashSet<String>,
}

impl Active {
    pub fn new(limit: usize) -> Self {
        Active {
            used: 0,
            limit,
            queue: VecDeque::new(),
            queued: HashMap::new(),
            tickets: 0,
            granted: HashSet::new(),
        }
    }

    /// A slot for `agent`, if one is free or was handed to it; else `agent` queues for one.
    pub fn acquire(&mut self, agent: &str) -> bool {
        if self.granted.remove(agent) {
            return true;
        }
        if self.used < self.limit && self.queue.is_empty() {
            self.used += 1;
            return true;
        }
        if !self.queued.contains_key(agent) {
            self.tickets += 1;
            self.queued.insert(agent.to_owned(), self.tickets);
            self.queue.push_back((agent.to_owned(), self.tickets));
        }
        false
    }

    /// Gives a slot back; returns the agent it was handed to, to be told.
    #[must_use]
    pub fn release(&mut self) -> Option<String> {
        while let Some((next, ticket)) = self.queue.pop_front() {
            if self.queued.get(&next) == Some(&ticket) {
                self.queued.remove(&next);
                self.granted.insert(next.clone());
                return Some(next);
            }
        }
        self.used -= 1;
        None
    }

    /// `agent` needs no slot (it sleeps, stopped, or has nothing to run): it leaves the
    /// queue, and a slot handed to it goes on; returns whom to, to be told.
    #[must_use]
    pub fn withdraw(&mut self, agent: &str) -> Option<String> {
        // Its entry in `queue` is skipped when reached (its ticket is void): cheaper than a
        // search of the queue, and an agent that queues again goes to the end.
        self.queued.remove(agent);
        if self.granted.remove(agent) {
            return self.release();
        }
        None
    }

    /// Slots taken.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_goes_to_the_first_waiter_not_a_newcomer() {
        let mut active = Active::new(1);
        assert!(active.acquire("a"));
        assert!(!active.acquire("b"));
        assert!(!active.acquire("c"));
        assert_eq!(active.release().as_deref(), Some("b"));
        assert!(!active.acquire("d"), "the slot is b's");
        assert!(active.acquire("b"));
        // b withdraws from nothing; c withdraws while queued; the next slot goes to d.
        assert_eq!(active.withdraw("c"), None);
        assert_eq!(active.release().as_deref(), Some("d"));
        assert_eq!(active.withdraw("d"), None, "nobody is left to hand it to");
        assert_eq!(active.used(), 0);
    }

    #[test]
    fn an_agent_that_queues_again_goes_to_the_end() {
        let mut active = Active::new(1);
        assert!(active.acquire("x"));
        assert!(!active.acquire("a"));
        assert_eq!(active.withdraw("a"), None);
        assert!(!active.acquire("b"));
        assert!(!active.acquire("a"));
        assert_eq!(active.release().as_deref(), Some("b"));
        assert!(active.acquire("b"));
        assert_eq!(active.release().as_deref(), Some("a"));
    }
}
