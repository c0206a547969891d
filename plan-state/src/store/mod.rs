//! Stores: where agent state is kept between runs, behind one async trait.
//!
//! Values are JSON, each with a version that every write raises; a compare-and-set write
//! ([`Store::compare_and_set`]) lets two agents update the same state without losing either
//! update: read, change, write back only if nobody wrote in between, else read again.
//!
//! * [`InMemory`]: in the process's memory, for tests and state that may be lost; one
//!   process by nature.
//! * [`JsonFiles`]: one JSON file per key, written atomically (a temporary file, fsynced,
//!   renamed over the old one, the directory fsynced): the old file survives any failed write.
//!   Several processes may share its directory on a local filesystem (an advisory lock on
//!   `DIR/.lock`), not on a network filesystem (see [`JsonFiles`]).
//! * [`Sqlite`] (feature `sqlite`, the default): the embedded store, SQLite in WAL mode,
//!   committing concurrent writes together (group commit); a write that finds it idle commits
//!   on the writer's thread, as a direct call would, and everything that could wait (reads,
//!   another process's lock, checkpoints) runs on a thread of its own; several processes of
//!   one machine may share its file (SQLite's locks).
//! * `Redis` (feature `redis`): for state shared by processes, on one machine or several, over
//!   a connection that reconnects by itself.
//! * `plan_remote::nats::NatsStore` (in the distributed layer's crate, `plan-remote`): a NATS
//!   JetStream key-value bucket, for state shared by processes on several machines, kept on
//!   several servers of a cluster.
//!
//! Every version is at most 2^63 - 1 (SQLite's integers are signed); a write over a value at
//! that version is refused ([`StoreError::Corrupt`]) rather than wrapped.
//!
//! ```
//! use plan_state::store::{Key, Store, Sqlite};
//! use serde_json::json;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = Sqlite::open_in_memory().await.unwrap();
//! let key = Key::new("agents/ada/state").unwrap();
//! let v1 = store.put(&key, &json!({ "turns": 1 })).await.unwrap();
//! let current = store.get(&key).await.unwrap().unwrap();
//! assert_eq!((current.value, current.version), (json!({ "turns": 1 }), v1));
//! // A write that assumes an older version is refused, and changes nothing.
//! assert!(store.compare_and_set(&key, Some(v1 - 1), &json!({ "turns": 9 })).await.unwrap().is_err());
//! # });
//! ```

mod error;
mod in_memory;
mod json;
mod key;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod version;

use std::future::Future;
use std::sync::Arc;

pub use error::{Conflict, StoreError};
pub use in_memory::InMemory;
pub use json::JsonFiles;
pub use key::Key;
#[cfg(feature = "redis")]
pub use redis::Redis;
#[cfg(feature = "sqlite")]
pub use sqlite::Sqlite;

/// A value as stored, with its version (1 for the first write, raised by every write).
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    /// The value.
    pub value: serde_json::Value,
    /// Its version.
    pub version: u64,
}

/// When a [`Store::write`] happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there.
    Anything,
    /// Only if the value is at this version (`None`: only if there is no value).
    Version(Option<u64>),
}

/// A key–value store of versioned JSON values. Every backend passes one conformance suite:
/// the feature `testkit`'s `store_conformance!`, which a backend of your own can call too.
///
/// A store behind an [`Arc`] is a store, so that one store can serve several
/// [`Persist`](crate::persist::Persist)s, and other code, at once.
pub trait Store: Send + Sync {
    /// Which store this is, for errors and logs: `json files at /var/agents`, `sqlite
    /// /var/agents.db`, `sqlite in memory`, `redis 127.0.0.1:6379`. Never a password. The
    /// default, for stores that do not say, is the type's name.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use plan_state::store::{Sqlite, Store};
    ///
    /// let store = std::sync::Arc::new(Sqlite::open_in_memory().await.unwrap());
    /// assert_eq!(store.name(), "sqlite in memory"); // an `Arc` of a store is that store
    /// # });
    /// ```
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// The value under `key`, if any.
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Versioned>, StoreError>> + Send;

    /// Writes `value` under `key` if `expect` holds; returns the new version, or the
    /// [`Conflict`] with what is there. The one write each backend implements.
    fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> impl Future<Output = Result<Result<u64, Conflict>, StoreError>> + Send;

    /// Writes `value` under `key`, whatever is there; returns the new version.
    fn put(
        &self,
        key: &Key,
        value: &serde_json::Value,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move {
            // `Expect::Anything` always holds: a conflict would be a backend's bug.
            self.write(key, Expect::Anything, value)
                .await?
                .map_err(|_| {
                    StoreError::corrupt(
                        self.name(),
                        key.as_str(),
                        "the store refused an unconditional write",
                    )
                })
        }
    }

    /// Writes `value` under `key` only if the current version is `expected` (`None`: only if
    /// there is no value). Returns the new version, or the [`Conflict`] with what is there.
    fn compare_and_set(
        &self,
        key: &Key,
        expected: Option<u64>,
        value: &serde_json::Value,
    ) -> impl Future<Output = Result<Result<u64, Conflict>, StoreError>> + Send {
        self.write(key, Expect::Version(expected), value)
    }

    /// Removes the value under `key`; returns whether there was one.
    fn delete(&self, key: &Key) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The keys starting with `prefix`, in order.
    fn keys(&self, prefix: &str) -> impl Future<Output = Result<Vec<Key>, StoreError>> + Send;
}

impl<S: Store> Store for Arc<S> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Versioned>, StoreError>> + Send {
        (**self).get(key)
    }

    fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> impl Future<Output = Result<Result<u64, Conflict>, StoreError>> + Send {
        (**self).write(key, expect, value)
    }

    fn delete(&self, key: &Key) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).delete(key)
    }

    fn keys(&self, prefix: &str) -> impl Future<Output = Result<Vec<Key>, StoreError>> + Send {
        (**self).keys(prefix)
    }
}
