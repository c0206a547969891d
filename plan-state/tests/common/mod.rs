//! What the store tests share; each test file declares `mod common;`. The conformance
//! suite itself is the crate's `testkit`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use plan_state::store::Key;

pub fn key(k: &str) -> Key {
    Key::new(k).unwrap()
}

/// A fresh directory under the system's temporary one, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("plan-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    /// A directory of its own for each call, for tests that run at once.
    pub fn unique(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Self::new(&format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
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
