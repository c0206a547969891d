//! The store conformance suite and what the store tests share; each test file declares
//! `mod common;`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use plan_state::store::{Key, Store};
use serde_json::json;

pub fn key(k: &str) -> Key {
    Key::new(k).unwrap()
}

/// Everything a store must do.
pub async fn conformance<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let a = key("agents/ada/state");
    assert_eq!(store.get(&a).await.unwrap(), None);

    // Versions rise with every write.
    assert_eq!(store.put(&a, &json!({ "turns": 1 })).await.unwrap(), 1);
    assert_eq!(store.put(&a, &json!({ "turns": 2 })).await.unwrap(), 2);
    let got = store.get(&a).await.unwrap().unwrap();
    assert_eq!((got.value, got.version), (json!({ "turns": 2 }), 2));

    // Compare-and-set: the expected version wins, any other is a conflict that changes nothing.
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
    assert_eq!(store.get(&a).await.unwrap().unwrap().value, json!(3));
    // `None`: only if there is nothing yet.
    let fresh = key("agents/bob/state");
    assert_eq!(
        store
            .compare_and_set(&fresh, None, &json!(0))
            .await
            .unwrap(),
        Ok(1)
    );
    assert!(
        store
            .compare_and_set(&fresh, None, &json!(1))
            .await
            .unwrap()
            .is_err()
    );

    // Two writers, each adding 1 fifty times by read, compare-and-set, retry: nothing lost.
    let counter = key("shared/counter");
    store.put(&counter, &json!(0)).await.unwrap();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (store, counter) = (Arc::clone(&store), counter.clone());
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..50 {
                    loop {
                        let now = store.get(&counter).await.unwrap().unwrap();
                        let next = json!(now.value.as_u64().unwrap() + 1);
                        match store
                            .compare_and_set(&counter, Some(now.version), &next)
                            .await
                            .unwrap()
                        {
                            Ok(_) => break,
                            Err(_) => conflicts += 1,
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let total = store.get(&counter).await.unwrap().unwrap();
    assert_eq!(total.value, json!(100));
    assert_eq!(total.version, 101);

    // Keys by prefix, in order; deletes.
    let listed: Vec<String> = store
        .keys("agents/")
        .await
        .unwrap()
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(listed, ["agents/ada/state", "agents/bob/state"]);
    assert_eq!(store.keys("").await.unwrap().len(), 3);
    assert!(store.delete(&fresh).await.unwrap());
    assert!(!store.delete(&fresh).await.unwrap());
    assert_eq!(store.get(&fresh).await.unwrap(), None);
    // After a delete, a value starts again at version 1.
    assert_eq!(store.put(&fresh, &json!(null)).await.unwrap(), 1);
}

/// A fresh directory under the system's temporary one, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("plan-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}
