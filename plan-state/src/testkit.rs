//! The store conformance suite, for a backend of your own (feature `testkit`): what every
//! [`Store`] must do, one property per public async fn, each given a fresh store.
//!
//! One call of [`store_conformance!`](crate::store_conformance) in a file of your `tests/`
//! gives a `#[tokio::test]` per property, in a module of the name you give, each with a store
//! of its own from the async block you give. The block gives the store, or the store and
//! whatever must live as long as it (a temporary directory, a server): see [`Fresh`]. The
//! tests run on tokio's multi-threaded runtime (two workers), so that two writers really do
//! race, unless further arguments (`tokio::test`'s) say otherwise; your `[dev-dependencies]`
//! need `tokio` with `macros` and `rt-multi-thread`.
//!
//! ```
//! use plan_state::store::InMemory;
//!
//! // In `tests/conformance.rs`: seven tests, `in_memory::versions_rise_with_every_write`…
//! plan_state::store_conformance!(in_memory, async { InMemory::new() });
//!
//! // Each property is also a plain async fn, for a test of your own.
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! plan_state::testkit::versions_rise_with_every_write(InMemory::new()).await;
//! # });
//! ```
//!
//! Every property panics, naming what was wrong, when the store does not have it. Each uses
//! keys under `agents/` and `shared/` and expects the store to start empty.

use std::sync::Arc;

use serde_json::json;

use crate::store::{Key, Store};

/// What the block given to [`store_conformance!`](crate::store_conformance) may give: a
/// store, or a store and a guard kept until the test ends (a directory removed on drop, a
/// server killed on drop).
///
/// ```
/// use plan_state::store::InMemory;
/// use plan_state::testkit::Fresh;
///
/// let (_store, ()) = InMemory::new().split();
/// let (_store, kept) = (InMemory::new(), "a guard").split();
/// assert_eq!(kept, "a guard");
/// ```
pub trait Fresh {
    /// The store under test.
    type Store: Store + 'static;
    /// What must live as long as the store.
    type Guard;

    /// The store, and what must outlive it.
    fn split(self) -> (Self::Store, Self::Guard);
}

impl<S: Store + 'static> Fresh for S {
    type Store = S;
    type Guard = ();

    fn split(self) -> (S, ()) {
        (self, ())
    }
}

impl<S: Store + 'static, G> Fresh for (S, G) {
    type Store = S;
    type Guard = G;

    fn split(self) -> (S, G) {
        self
    }
}

/// One `#[tokio::test]` per property of the [store conformance suite](crate::testkit), in a
/// module named `$name`, each with a fresh store from `$fresh` (an async block, evaluated in
/// each test, giving a [`Fresh`](crate::testkit::Fresh): a store, or a store and a guard).
/// Any further arguments are given to `tokio::test` instead of its default here,
/// `flavor = "multi_thread", worker_threads = 2`. The module sees the items of the file it is
/// called in.
///
/// ```
/// use plan_state::store::InMemory;
///
/// plan_state::store_conformance!(in_memory, async { InMemory::new() });
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($name:ident, $fresh:expr $(,)?) => {
        $crate::store_conformance!($name, $fresh, flavor = "multi_thread", worker_threads = 2);
    };
    ($name:ident, $fresh:expr, $($args:tt)+) => {
        $crate::store_conformance!(@tests $name [$fresh] ($($args)+)
            an_absent_key_reads_as_nothing
            versions_rise_with_every_write
            compare_and_set_writes_only_at_the_expected_version
            compare_and_set_on_nothing_writes_only_once
            two_racing_writers_lose_nothing
            keys_are_listed_by_prefix_in_order
            a_delete_removes_the_value_and_its_version
        );
    };
    (@tests $name:ident [$fresh:expr] $args:tt $($property:ident)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test $args]
                async fn $property() {
                    let (store, _guard) = $crate::testkit::Fresh::split($fresh.await);
                    $crate::testkit::$property(store).await;
                }
            )*
        }
    };
}

fn key(k: &str) -> Key {
    Key::new(k).expect("the suite's keys are valid")
}

/// A key never written reads as `None`.
pub async fn an_absent_key_reads_as_nothing<S: Store>(store: S) {
    let a = key("agents/ada/state");
    assert_eq!(store.get(&a).await.unwrap(), None, "a key never written");
    assert!(
        store.keys("").await.unwrap().is_empty(),
        "a fresh store lists keys"
    );
}

/// Each write of a key gives it the next version (1 for the first), and a read gives the
/// last value written with its version.
pub async fn versions_rise_with_every_write<S: Store>(store: S) {
    let a = key("agents/ada/state");
    assert_eq!(store.put(&a, &json!({ "turns": 1 })).await.unwrap(), 1);
    assert_eq!(store.put(&a, &json!({ "turns": 2 })).await.unwrap(), 2);
    let got = store.get(&a).await.unwrap().unwrap();
    assert_eq!((got.value, got.version), (json!({ "turns": 2 }), 2));
}

/// Compare-and-set at the current version writes and gives the next version; at any other
/// version it is a [`Conflict`](crate::store::Conflict) naming the expected and the current
/// version, and changes nothing.
pub async fn compare_and_set_writes_only_at_the_expected_version<S: Store>(store: S) {
    let a = key("agents/ada/state");
    store.put(&a, &json!(1)).await.unwrap();
    store.put(&a, &json!(2)).await.unwrap();
    assert_eq!(
        store.compare_and_set(&a, Some(2), &json!(3)).await.unwrap(),
        Ok(3)
    );
    let conflict = store
        .compare_and_set(&a, Some(2), &json!("stale"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(conflict.expected, Some(2));
    assert_eq!(conflict.current.as_ref().map(|c| c.version), Some(3));
    let now = store.get(&a).await.unwrap().unwrap();
    assert_eq!((now.value, now.version), (json!(3), 3), "a conflict wrote");
}

/// Compare-and-set expecting `None` writes only if there is no value: the first gives
/// version 1, the second is a conflict.
pub async fn compare_and_set_on_nothing_writes_only_once<S: Store>(store: S) {
    let fresh = key("agents/bob/state");
    assert_eq!(
        store
            .compare_and_set(&fresh, None, &json!(0))
            .await
            .unwrap(),
        Ok(1)
    );
    let conflict = store
        .compare_and_set(&fresh, None, &json!(1))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(conflict.expected, None);
    assert_eq!(
        conflict.current.map(|c| (c.value, c.version)),
        Some((json!(0), 1))
    );
}

/// Two tasks, each adding 1 fifty times to one counter by read, compare-and-set, retry:
/// the counter ends at 100, at version 101 — no write lost, none applied twice.
pub async fn two_racing_writers_lose_nothing<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let counter = key("shared/counter");
    store.put(&counter, &json!(0)).await.unwrap();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (store, counter) = (Arc::clone(&store), counter.clone());
            tokio::spawn(async move {
                for _ in 0..50 {
                    loop {
                        let now = store.get(&counter).await.unwrap().unwrap();
                        let next = json!(now.value.as_u64().unwrap() + 1);
                        let written = store
                            .compare_and_set(&counter, Some(now.version), &next)
                            .await
                            .unwrap();
                        if written.is_ok() {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let total = store.get(&counter).await.unwrap().unwrap();
    assert_eq!((total.value, total.version), (json!(100), 101));
}

/// `keys(prefix)` lists the keys that start with `prefix`, in order; `""` lists them all.
pub async fn keys_are_listed_by_prefix_in_order<S: Store>(store: S) {
    for k in ["agents/bob/state", "shared/counter", "agents/ada/state"] {
        store.put(&key(k), &json!(null)).await.unwrap();
    }
    let listed = |keys: Vec<Key>| keys.iter().map(Key::to_string).collect::<Vec<_>>();
    assert_eq!(
        listed(store.keys("agents/").await.unwrap()),
        ["agents/ada/state", "agents/bob/state"]
    );
    assert_eq!(
        listed(store.keys("").await.unwrap()),
        ["agents/ada/state", "agents/bob/state", "shared/counter"]
    );
    assert!(store.keys("nobody/").await.unwrap().is_empty());
}

/// A delete says whether there was a value; after it the key reads as `None`, is not
/// listed, and a new value starts again at version 1.
pub async fn a_delete_removes_the_value_and_its_version<S: Store>(store: S) {
    let k = key("agents/bob/state");
    store.put(&k, &json!(1)).await.unwrap();
    store.put(&k, &json!(2)).await.unwrap();
    assert!(store.delete(&k).await.unwrap(), "the value was there");
    assert!(!store.delete(&k).await.unwrap(), "the value was gone");
    assert_eq!(store.get(&k).await.unwrap(), None);
    assert!(
        store.keys("").await.unwrap().is_empty(),
        "a deleted key is listed"
    );
    assert_eq!(store.put(&k, &json!(null)).await.unwrap(), 1);
}
