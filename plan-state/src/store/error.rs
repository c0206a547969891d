//! How a store fails.

use super::Versioned;

/// Why a store operation failed. Nothing already saved is lost by a failed operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key is not valid (see [`Key`](super::Key)).
    #[error("bad store key `{key}`: {reason}")]
    BadKey {
        /// The key, as given.
        key: String,
        /// Why it is refused.
        reason: String,
    },
    /// The backend failed (I/O, SQLite).
    #[error("store {operation} of `{key}` failed: {source}")]
    Backend {
        /// What was being done.
        operation: &'static str,
        /// The key.
        key: String,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored value could not be read back (a file edited by hand, say).
    #[error("the value stored under `{key}` is not valid: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store's worker is gone (its thread panicked or the store was closed).
    #[error("the store is closed")]
    Closed,
}

/// A compare-and-set write refused: the value was not at the expected version.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("the value changed: expected version {expected:?}, found {:?}", .current.as_ref().map(|c| c.version))]
pub struct Conflict {
    /// The version the write expected.
    pub expected: Option<u64>,
    /// What is stored now.
    pub current: Option<Versioned>,
}
