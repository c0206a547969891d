//! Memory: facts by key, and an append-only log of episodes with a size cap.
//!
//! ```
//! use plan_state::memory::{Episodes, Memory};
//!
//! let mut facts: Memory<String> = Memory::new();
//! facts.remember("user", "ada".to_owned());
//! assert_eq!(facts.recall("user").map(String::as_str), Some("ada"));
//!
//! // At most 4 episodes; when full, the oldest half is folded into one summary.
//! let mut log = Episodes::with_cap(4);
//! for turn in 1..=6 {
//!     log.push_or_compact(format!("turn {turn}"), |old| format!("[{}]", old.join(", ")));
//! }
//! let kept: Vec<&str> = log.iter().map(String::as_str).collect();
//! assert_eq!(kept, ["[[turn 1, turn 2], turn 3]", "turn 4", "turn 5", "turn 6"]);
//! ```

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Facts by key: what an agent knows, replaced when it learns better.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Memory<V> {
    facts: BTreeMap<String, V>,
}

impl<V> Default for Memory<V> {
    fn default() -> Self {
        Memory {
            facts: BTreeMap::new(),
        }
    }
}

impl<V> Memory<V> {
    /// No facts.
    pub fn new() -> Self {
        Memory::default()
    }

    /// Remembers `value` under `key`; returns what it replaces.
    pub fn remember(&mut self, key: impl Into<String>, value: V) -> Option<V> {
        self.facts.insert(key.into(), value)
    }

    /// The fact under `key`.
    pub fn recall(&self, key: &str) -> Option<&V> {
        self.facts.get(key)
    }

    /// Forgets the fact under `key`; returns it.
    pub fn forget(&mut self, key: &str) -> Option<V> {
        self.facts.remove(key)
    }

    /// How many facts.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// The facts, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.facts.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// An append-only log of episodes, oldest first, holding at most `cap` of them.
///
/// [`Episodes::push`] drops the oldest episode when the log is full (and counts it in
/// [`Episodes::dropped`]); [`Episodes::push_or_compact`] folds the oldest half into one
/// summary instead, so that nothing is lost without trace. [`Episodes::compact`] folds on
/// demand.
///
/// Read back from a store, a log is checked as this crate writes them: a cap of at least 2,
/// and no more episodes than it. A log written by hand that breaks either is an error.
///
/// ```
/// use plan_state::memory::Episodes;
///
/// let read: Episodes<u32> = serde_json::from_str(r#"{"entries": [1, 2], "cap": 3, "dropped": 0}"#).unwrap();
/// assert_eq!((read.len(), read.cap()), (2, 3));
/// let err = serde_json::from_str::<Episodes<u32>>(r#"{"entries": [1, 2], "cap": 0, "dropped": 0}"#).unwrap_err();
/// assert!(err.to_string().starts_with("an episode log's cap is at least 2, not 0"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredEpisodes<T>")]
pub struct Episodes<T> {
    entries: VecDeque<T>,
    cap: usize,
    dropped: u64,
}

/// A log as stored, before it is checked.
#[derive(Deserialize)]
struct StoredEpisodes<T> {
    entries: VecDeque<T>,
    cap: usize,
    dropped: u64,
}

impl<T> TryFrom<StoredEpisodes<T>> for Episodes<T> {
    type Error = String;

    fn try_from(stored: StoredEpisodes<T>) -> Result<Self, String> {
        let StoredEpisodes {
            entries,
            cap,
            dropped,
        } = stored;
        if cap < 2 {
            return Err(format!("an episode log's cap is at least 2, not {cap}"));
        }
        if entries.len() > cap {
            return Err(format!(
                "an episode log holds at most its cap of {cap} episodes, not {}",
                entries.len()
            ));
        }
        Ok(Episodes {
            entries,
            cap,
            dropped,
        })
    }
}

impl<T> Default for Episodes<T> {
    /// A log of up to 1,000 episodes.
    fn default() -> Self {
        Episodes::with_cap(1000)
    }
}

impl<T> Episodes<T> {
    /// An empty log of at most `cap` episodes (at least 2, so that compaction leaves room).
    pub fn with_cap(cap: usize) -> Self {
        Episodes {
            entries: VecDeque::new(),
            cap: cap.max(2),
            dropped: 0,
        }
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Appends `episode`, dropping the oldest if the log is full.
    pub fn push(&mut self, episode: T) {
        if self.entries.len() >= self.cap {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(episode);
    }

    /// Appends `episode`; if the log is full, first folds its oldest half into one episode
    /// with `fold` (given them oldest first).
    pub fn push_or_compact(&mut self, episode: T, fold: impl FnOnce(Vec<T>) -> T) {
        if self.entries.len() >= self.cap {
            // The newest half, but room for the fold and the new episode (a cap of 2 or 3
            // keeps fewer).
            self.compact((self.cap - self.cap / 2).min(self.cap - 2), fold);
        }
        self.entries.push_back(episode);
    }

    /// Folds every episode but the newest `keep` into one, first in the log.
    pub fn compact(&mut self, keep: usize, fold: impl FnOnce(Vec<T>) -> T) {
        let old = self.entries.len().saturating_sub(keep);
        if old == 0 {
            return;
        }
        let folded = fold(self.entries.drain(..old).collect());
        self.entries.push_front(folded);
    }

    /// How many episodes [`Episodes::push`] dropped for want of room.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// How many episodes the log holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The episodes, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.entries.iter()
    }

    /// The newest `n` episodes, oldest first.
    pub fn recent(&self, n: usize) -> impl Iterator<Item = &T> {
        self.entries
            .iter()
            .skip(self.entries.len().saturating_sub(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_log_drops_its_oldest_and_counts_them() {
        let mut log = Episodes::with_cap(3);
        for n in 0..5 {
            log.push(n);
        }
        assert_eq!(log.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!((log.dropped(), log.len(), log.cap()), (2, 3, 3));
        assert_eq!(log.recent(2).copied().collect::<Vec<_>>(), [3, 4]);
        log.compact(1, |old| old.iter().sum());
        assert_eq!(log.iter().copied().collect::<Vec<_>>(), [5, 4]);
        let json = serde_json::to_string(&log).unwrap();
        assert_eq!(serde_json::from_str::<Episodes<i32>>(&json).unwrap(), log);
    }

    #[test]
    fn a_compacting_log_stays_within_the_smallest_caps() {
        for cap in 2..=5 {
            let mut log = Episodes::with_cap(cap);
            for n in 0..20 {
                log.push_or_compact(n, |old| old.iter().sum());
                assert!(log.len() <= cap, "cap {cap}: {} episodes", log.len());
            }
            // Nothing lost without trace: the folds sum to what was pushed.
            assert_eq!(log.iter().sum::<i32>(), (0..20).sum::<i32>(), "cap {cap}");
        }
    }

    #[test]
    fn facts_are_replaced_and_forgotten() {
        let mut facts = Memory::new();
        assert_eq!(facts.remember("city", 1), None);
        assert_eq!(facts.remember("city", 2), Some(1));
        assert_eq!(facts.forget("city"), Some(2));
        assert!(facts.is_empty());
    }
}
