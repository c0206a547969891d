//! One conformance suite, run against every store (the `testkit`'s, one test per property):
//! versions, compare-and-set, two concurrent writers losing nothing, deletes, key listing;
//! and, beyond it, what the file stores keep on reopening, and keys that are refused.

mod common;

use common::{key, temp_dir, walk};
use plan_state::store::{InMemory, JsonFiles, Key, Sqlite, Store, StoreError};
use plan_state::store_conformance;
use plan_state::testkit::two_racing_writers_lose_nothing;
use serde_json::json;

store_conformance!(json_files, async {
    let dir = temp_dir("json");
    (JsonFiles::open(dir.path()).unwrap(), dir)
});

store_conformance!(in_memory, async { InMemory::new() });

store_conformance!(sqlite_in_memory, async {
    Sqlite::open_in_memory().await.unwrap()
});

store_conformance!(sqlite_file, async {
    let dir = temp_dir("sqlite");
    (
        Sqlite::open(dir.path().join("state.db")).await.unwrap(),
        dir,
    )
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_files_leave_no_temporary_file_and_reopen_with_what_was_written() {
    let dir = temp_dir("json-reopen");
    two_racing_writers_lose_nothing(JsonFiles::open(dir.path()).unwrap()).await;
    let leftovers = walk(dir.path())
        .into_iter()
        .filter(|p| p.contains(".tmp"))
        .count();
    assert_eq!(leftovers, 0);
    let reopened = JsonFiles::open(dir.path()).unwrap();
    let counter = reopened.get(&key("shared/counter")).await.unwrap().unwrap();
    assert_eq!((counter.value, counter.version), (json!(100), 101));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_file_reopens_with_what_was_written() {
    let dir = temp_dir("sqlite-reopen");
    let path = dir.path().join("state.db");
    two_racing_writers_lose_nothing(Sqlite::open(&path).await.unwrap()).await;
    let reopened = Sqlite::open(&path).await.unwrap();
    let counter = reopened.get(&key("shared/counter")).await.unwrap().unwrap();
    assert_eq!((counter.value, counter.version), (json!(100), 101));
}

/// A write commits on the writer's own thread only if that never waits: one that finds
/// another process writing waits on the store's thread, and the runtime goes on meanwhile —
/// here, to let the other process finish.
#[tokio::test]
async fn an_sqlite_write_waiting_for_another_processs_lock_leaves_the_runtime_free() {
    let dir = temp_dir("sqlite-locked");
    let path = dir.path().join("state.db");
    let store = Sqlite::open(&path).await.unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO plan_state VALUES ('theirs', 1, '1')")
        .unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        released.recv().unwrap();
        other.execute_batch("COMMIT").unwrap();
    });
    let (mine, one) = (key("mine"), json!(1));
    let mut write = std::pin::pin!(store.put(&mine, &one));
    // Queued, then found the lock taken and handed to the store's thread, at once: a poll that
    // waited on the lock itself would return only when SQLite's wait (5 s) gave up.
    let polled = std::time::Instant::now();
    for _ in 0..3 {
        assert!(futures::poll!(write.as_mut()).is_pending());
    }
    assert!(polled.elapsed() < std::time::Duration::from_secs(2));
    release.send(()).unwrap();
    assert_eq!(write.await.unwrap(), 1);
    holder.join().unwrap();
    let theirs = store.get(&key("theirs")).await.unwrap().unwrap();
    assert_eq!(theirs.value, json!(1));
}

#[tokio::test]
async fn an_sqlite_write_given_up_while_it_waited_is_still_committed() {
    let store = Sqlite::open_in_memory().await.unwrap();
    let (kept, value) = (key("given-up"), json!("kept"));
    {
        let mut write = std::pin::pin!(store.put(&kept, &value));
        assert!(futures::poll!(write.as_mut()).is_pending());
    }
    let found = store.get(&kept).await.unwrap().unwrap();
    assert_eq!(found.value, value);
}

/// SQLite's own checkpoints are off (they would run inside whichever commit crossed the line,
/// on a runtime's thread); the store's thread makes them instead, so the log stays bounded.
#[tokio::test]
async fn an_sqlite_files_write_ahead_log_is_checkpointed_as_it_grows() {
    let dir = temp_dir("sqlite-checkpoints");
    let path = dir.path().join("state.db");
    let store = Sqlite::open(&path).await.unwrap();
    let writes = 4_000;
    for i in 0..writes {
        store
            .put(&key(&format!("k{}", i % 10)), &json!(i))
            .await
            .unwrap();
    }
    // Every commit appends at least one 4 KiB page to the log: unchecked, it would hold 4,000.
    let log = std::fs::metadata(dir.path().join("state.db-wal"))
        .unwrap()
        .len();
    assert!(log < writes / 2 * 4096, "the log is {log} bytes");
}

#[tokio::test]
async fn opening_removes_the_temporary_files_of_cut_writes_and_nothing_else() {
    let dir = temp_dir("leftovers");
    let store = JsonFiles::open(dir.path()).unwrap();
    store.put(&key("notes"), &json!("kept")).await.unwrap();
    store
        .put(&key("agents/ada"), &json!("kept too"))
        .await
        .unwrap();
    // What a writer killed before its rename leaves (`.NAME.json.PID.N.tmp`), at the top and
    // under a key's directory, half written; and files that are not the store's.
    let leftovers = [".notes.json.4242.0.tmp", "agents/.ada.json.4242.17.tmp"];
    for leftover in leftovers {
        std::fs::write(dir.path().join(leftover), br#"{"version": 2, "val"#).unwrap();
    }
    let others = [
        ".notes.tmp",
        "notes.json.1.2.tmp",
        "agents/.keep",
        "readme.txt",
    ];
    for other in others {
        std::fs::write(dir.path().join(other), b"not the store's").unwrap();
    }
    // Listing ignores them all, before and after.
    let listed = [key("agents/ada"), key("notes")];
    assert_eq!(store.keys("").await.unwrap(), listed);

    let reopened = JsonFiles::open(dir.path()).unwrap();
    for leftover in leftovers {
        assert!(
            !dir.path().join(leftover).exists(),
            "{leftover} is still there"
        );
    }
    for other in others {
        assert!(dir.path().join(other).exists(), "{other} was removed");
    }
    assert_eq!(reopened.keys("").await.unwrap(), listed);
    let notes = reopened.get(&key("notes")).await.unwrap().unwrap();
    assert_eq!((notes.value, notes.version), (json!("kept"), 1));
}

#[tokio::test]
async fn a_hand_edited_file_is_a_clear_error_and_nothing_is_overwritten() {
    let dir = temp_dir("corrupt");
    let store = JsonFiles::open(dir.path()).unwrap();
    let k = key("notes");
    store.put(&k, &json!("kept")).await.unwrap();
    let file = dir.path().join("notes.json");
    std::fs::write(&file, b"{ not json").unwrap();
    let err = store.get(&k).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let expected = format!(
        "the value under `notes` in json files at {} is not valid",
        dir.path().display()
    );
    assert!(err.to_string().starts_with(&expected), "{err}");
    // A write does not replace what it cannot read.
    assert!(store.put(&k, &json!("new")).await.is_err());
    assert_eq!(std::fs::read(&file).unwrap(), b"{ not json");
}

#[test]
fn keys_that_could_escape_the_store_are_refused() {
    for bad in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a/.tmp",
        "",
        "a b",
        "a//b",
    ] {
        let err = Key::new(bad).unwrap_err();
        assert!(err.to_string().starts_with("bad store key"), "{bad}: {err}");
    }
}
