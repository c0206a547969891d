//! The kit catches a broken backend: a store that ignores compare-and-set's expected version
//! (last writer wins) fails the properties that need it, and passes the others.

use plan_state::store::{Conflict, Expect, InMemory, Key, Store, StoreError, Versioned};
use plan_state::testkit;

/// `InMemory`, but every write is written whatever is there.
struct LastWriterWins(InMemory);

impl Store for LastWriterWins {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        self.0.get(key).await
    }

    async fn write(
        &self,
        key: &Key,
        _expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        self.0.write(key, Expect::Anything, value).await
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        self.0.delete(key).await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        self.0.keys(prefix).await
    }
}

fn broken() -> LastWriterWins {
    LastWriterWins(InMemory::new())
}

/// Whether `property` panics (fails) on a fresh broken store.
async fn fails<F: Future<Output = ()> + Send + 'static>(property: F) -> bool {
    tokio::spawn(property).await.is_err_and(|e| e.is_panic())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_ignores_the_expected_version_fails_the_properties_that_need_it() {
    assert!(fails(testkit::compare_and_set_writes_only_at_the_expected_version(broken())).await);
    assert!(
        fails(testkit::compare_and_set_on_nothing_writes_only_once(
            broken()
        ))
        .await
    );
    // What does not depend on it still holds.
    assert!(!fails(testkit::versions_rise_with_every_write(broken())).await);
    assert!(!fails(testkit::keys_are_listed_by_prefix_in_order(broken())).await);
    assert!(!fails(testkit::a_delete_removes_the_value_and_its_version(broken())).await);
}
