//! What the store tests share; each test file declares `mod common;`. The conformance
//! suite itself is the crate's `testkit`.
#![allow(dead_code, unused_imports)]

use plan_state::store::Key;

pub fn key(k: &str) -> Key {
    Key::new(k).unwrap()
}

pub use test_support::{TempDir, temp_dir};

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
