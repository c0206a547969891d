//! [`InMemory`]: a store that lives and dies with its process.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::{Conflict, Expect, Key, Store, StoreError, Versioned};

/// A store in the process's memory: nothing survives the process, every operation completes
/// at once. For tests (it never waits on a thread, so tokio's paused clock stays exact),
/// caches, and agents whose state may be lost. Passes the stores' conformance suite.
///
/// ```
/// use plan_state::store::{InMemory, Key, Store};
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = InMemory::new();
/// let key = Key::new("agents/ada/state").unwrap();
/// assert_eq!(store.put(&key, &json!({ "turns": 1 })).await.unwrap(), 1);
/// assert_eq!(store.get(&key).await.unwrap().unwrap().value, json!({ "turns": 1 }));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemory {
    values: Mutex<BTreeMap<Key, Versioned>>,
}

impl InMemory {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn values(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Versioned>> {
        // A panic under the lock cannot leave a half-written value: each operation is one
        // map call.
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for InMemory {
    fn name(&self) -> &str {
        "the in-memory store"
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        Ok(self.values().get(key).cloned())
    }

    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        let mut values = self.values();
        let current = values.get(key);
        let version = current.map(|c| c.version);
        if let Expect::Version(expected) = expect
            && expected != version
        {
            let current = current.cloned();
            return Ok(Err(Conflict { expected, current }));
        }
        let next = version.unwrap_or(0) + 1;
        values.insert(
            key.clone(),
            Versioned {
                value: value.clone(),
                version: next,
            },
        );
        Ok(Ok(next))
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        Ok(self.values().remove(key).is_some())
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        Ok(self
            .values()
            .keys()
            .filter(|key| key.as_str().starts_with(prefix))
            .cloned()
            .collect())
    }
}
