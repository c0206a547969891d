//! How a store fails.

use super::Versioned;

/// Why a store operation failed. Every error but [`StoreError::BadKey`] names the store (as
/// [`Store::name`](super::Store::name) does: `json files at /var/agents`, `sqlite
/// /var/agents.db`, `redis 127.0.0.1:6379`, never a password), and every error about a
/// value names its key. Nothing already saved is lost by a failed operation.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use plan_state::store::{JsonFiles, Key, Store, StoreError};
///
/// let dir = std::env::temp_dir().join(format!("plan-state-doc-error-{}", std::process::id()));
/// let store = JsonFiles::open(&dir).unwrap();
/// std::fs::write(dir.join("notes.json"), "{ \"version\": 1, \"val").unwrap(); // cut short
/// let err = store.get(&Key::new("notes").unwrap()).await.unwrap_err();
/// assert!(matches!(err, StoreError::Corrupt { .. }));
/// let shown = err.to_string();
/// assert!(shown.starts_with(&format!("the value under `notes` in json files at {} is not valid: ", dir.display())));
/// assert!(shown.ends_with("EOF while parsing a string at line 1 column 20"), "{shown}");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// ```
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
    /// The store could not be opened: a directory that cannot be made, a file that is not an
    /// SQLite database, a server that does not answer.
    #[error("cannot open {store}: {source}")]
    Open {
        /// The store.
        store: String,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend failed (I/O, SQLite, the network).
    #[error("{operation} of `{key}` in {store} failed: {source}")]
    Backend {
        /// The store.
        store: String,
        /// What was being done: `read`, `write`, `delete` or `list` (whose key is the prefix).
        operation: &'static str,
        /// The key.
        key: String,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored value could not be read back (a file truncated or edited by hand, say).
    #[error("the value under `{key}` in {store} is not valid: {reason}")]
    Corrupt {
        /// The store.
        store: String,
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store's worker is gone (its thread panicked or the store was closed).
    #[error("{store} is closed")]
    Closed {
        /// The store.
        store: String,
    },
}

/// The errors a backend returns, made as the crate's own backends make them (for a backend of
/// your own, which the conformance suite holds to the same errors).
///
/// ```
/// use plan_state::store::StoreError;
///
/// let err = StoreError::corrupt("my-store", "agents/ada", "not JSON");
/// assert!(matches!(err, StoreError::Corrupt { .. }));
/// assert!(err.to_string().contains("agents/ada"));
/// ```
impl StoreError {
    /// A backend failure of `operation` on `key` in `store`.
    pub fn backend(
        store: &str,
        operation: &'static str,
        key: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Backend {
            store: store.to_owned(),
            operation,
            key: key.to_owned(),
            source: source.into(),
        }
    }

    /// The value under `key` in `store` is not what the store wrote.
    pub fn corrupt(store: &str, key: &str, reason: impl ToString) -> Self {
        StoreError::Corrupt {
            store: store.to_owned(),
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// `store` could not be opened.
    pub fn open(store: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Open {
            store: store.to_owned(),
            source: source.into(),
        }
    }
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
