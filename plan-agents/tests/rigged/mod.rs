//! [`Rigged`]: a store for tests of what happens when a store fails or is slow.
#![allow(dead_code)] // each test file uses part of it

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use plan_state::store::{Conflict, Expect, InMemory, Key, Store, StoreError, Versioned};

/// A store (the in-memory one unless given), rigged: writes of keys containing the part set
/// by [`Rigged::fail`] fail; every write takes `delay_ms`; every read yields once done while
/// `yield_reads` is set; writes (begun) are counted.
pub struct Rigged<S = InMemory> {
    inner: S,
    fail: Mutex<Option<String>>,
    pub delay_ms: AtomicU64,
    pub writes: AtomicUsize,
    pub yield_reads: AtomicBool,
}

impl Rigged {
    /// The in-memory store, rigged.
    pub fn new() -> Self {
        Rigged::over(InMemory::new())
    }
}

impl<S> Rigged<S> {
    /// `inner`, rigged, with nothing failing yet.
    pub fn over(inner: S) -> Self {
        Rigged {
            inner,
            fail: Mutex::default(),
            delay_ms: AtomicU64::default(),
            writes: AtomicUsize::default(),
            yield_reads: AtomicBool::default(),
        }
    }

    /// From now on, writes of keys containing `part` fail (none, with `None`).
    pub fn fail(&self, part: Option<&str>) {
        *self.fail.lock().unwrap() = part.map(str::to_owned);
    }
}

impl<S: Store> Store for Rigged<S> {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let got = self.inner.get(key).await;
        if self.yield_reads.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        got
    }

    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let fails = self
            .fail
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|part| key.as_str().contains(part.as_str()));
        if fails {
            return Err(StoreError::Backend {
                store: "rigged".into(),
                operation: "write",
                key: key.to_string(),
                source: "disk full".into(),
            });
        }
        self.inner.write(key, expect, value).await
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        self.inner.delete(key).await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        if self.yield_reads.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        self.inner.keys(prefix).await
    }
}
