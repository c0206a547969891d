//! Bad input, for real: files truncated, overwritten with garbage or of the wrong shape, a
//! directory that cannot be written, a file that is not an SQLite database, rows written by
//! hand. Each is an error naming the key and the store — never a panic, never an empty
//! state — and nothing already saved is lost.

mod common;

use std::path::Path;

use common::{key, temp_dir};
use plan_runtime::prelude::*;
use plan_state::persist::{Persist, PersistError, Stored};
use plan_state::store::{JsonFiles, Sqlite, Store, StoreError};
use serde_json::json;

fn json_name(dir: &Path) -> String {
    format!("json files at {}", dir.display())
}

/// Asserts that `err` is `Corrupt`, naming `key` and `store`.
fn assert_corrupt(err: &StoreError, store: &str, k: &str) {
    match err {
        StoreError::Corrupt { store: s, key, .. } => {
            assert_eq!((s.as_str(), key.as_str()), (store, k), "{err}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("the value under `{k}` in {store} is not valid: ")),
        "{err}"
    );
}

#[tokio::test]
async fn a_truncated_json_file_is_corrupt_and_no_write_replaces_it() {
    let dir = temp_dir("bad-truncated");
    let store = JsonFiles::open(dir.path()).unwrap();
    let k = key("agents/ada");
    store
        .put(&k, &json!({ "notes": ["kept", "also kept"] }))
        .await
        .unwrap();
    let file = dir.path().join("agents/ada.json");
    let whole = std::fs::read(&file).unwrap();
    // Cut as a crash of another writer without atomic renames would leave it.
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    let cut = std::fs::read(&file).unwrap();

    let err = store.get(&k).await.unwrap_err();
    assert_corrupt(&err, &json_name(dir.path()), "agents/ada");
    assert!(err.to_string().contains("EOF while parsing"), "{err}");

    // Through the load step: the plan's error names the step, the key and the store; a
    // default does not paper over a corrupt state.
    let agents: Persist<serde_json::Value, _> = Persist::new(store).or_default();
    let turn = plan! { #[name = "load"] (agents.load()) >> (agents.save()) };
    let err = turn.run(k.clone()).await.unwrap_err();
    assert_eq!(err.node().name, "load");
    assert!(
        matches!(
            err.step_error::<PersistError>(),
            Some(PersistError::Store(StoreError::Corrupt { .. }))
        ),
        "{err:?}"
    );
    // Neither a compare-and-set nor a blind write replaces what cannot be read.
    let mut fresh = Stored::new(k.clone(), json!("new"));
    assert!(agents.write(&mut fresh).await.is_err());
    assert!(agents.store().put(&k, &json!("new")).await.is_err());
    assert_eq!(std::fs::read(&file).unwrap(), cut);
}

#[tokio::test]
async fn garbage_and_json_of_the_wrong_shape_are_corrupt() {
    let dir = temp_dir("bad-garbage");
    let store = JsonFiles::open(dir.path()).unwrap();
    let name = json_name(dir.path());
    for (k, bytes) in [
        ("garbage", &b"\x00\xff\xfe not json at all"[..]),
        ("empty", b""),
        ("array", b"[1, 2, 3]"),
        ("no-version", br#"{"value": 1}"#),
        ("bad-version", br#"{"version": "two", "value": 1}"#),
    ] {
        std::fs::write(dir.path().join(format!("{k}.json")), bytes).unwrap();
        let err = store.get(&key(k)).await.unwrap_err();
        assert_corrupt(&err, &name, k);
        // The reason names the file, so that it can be found and mended.
        assert!(err.to_string().contains(&format!("{k}.json")), "{err}");
    }
    // Listing still works: the keys are there, their values are what is broken.
    assert_eq!(store.keys("").await.unwrap().len(), 5);
}

#[cfg(target_os = "linux")]
#[test]
fn a_json_directory_that_cannot_be_made_is_an_error_naming_the_store() {
    // Not even root can make a directory in /proc.
    let err = JsonFiles::open("/proc/plan-state-test").unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot open json files at /proc/plan-state-test: "),
        "{err}"
    );
}

/// Why a test cannot go on where [`Unwritable`] fails: a test never skips, it says so.
const UNWRITABLE: &str = "cannot make a directory unwritable here: as root this test needs `chattr` (e2fsprogs) and CAP_LINUX_IMMUTABLE";

/// Makes `dir` unwritable until dropped: by its mode, or — for root, whom modes do not stop —
/// by the immutable attribute. `None` where neither works (root without `chattr`).
struct Unwritable<'a>(&'a Path, bool);

impl<'a> Unwritable<'a> {
    fn new(dir: &'a Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        if Self::refuses_files(dir) {
            return Some(Unwritable(dir, false));
        }
        let chattr = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status();
        let guard = Unwritable(dir, true);
        (chattr.is_ok_and(|s| s.success()) && Self::refuses_files(dir)).then_some(guard)
    }

    fn refuses_files(dir: &Path) -> bool {
        let probe = dir.join("probe");
        let refused = std::fs::write(&probe, b"").is_err();
        let _ = std::fs::remove_file(probe);
        refused
    }
}

impl Drop for Unwritable<'_> {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.1 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(self.0)
                .status();
        }
        let _ = std::fs::set_permissions(self.0, std::fs::Permissions::from_mode(0o755));
    }
}

#[tokio::test]
async fn a_directory_this_process_may_only_read_opens_for_reading() {
    let dir = temp_dir("bad-read-only");
    // A store's file with no lock file beside it: copied in, or written by an older version.
    std::fs::write(
        dir.path().join("notes.json"),
        br#"{"version":1,"value":"saved"}"#,
    )
    .unwrap();
    let _unwritable = Unwritable::new(dir.path()).expect(UNWRITABLE);
    let store = JsonFiles::open(dir.path()).unwrap();
    let k = key("notes");
    let saved = store.get(&k).await.unwrap().unwrap();
    assert_eq!((saved.value, saved.version), (json!("saved"), 1));
    assert_eq!(store.keys("").await.unwrap(), std::slice::from_ref(&k));
    let err = store.put(&k, &json!("new")).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
    let expected = format!(
        "write of `notes` in {} failed: cannot make the lock file {}: ",
        json_name(dir.path()),
        dir.path().join(".lock").display()
    );
    assert!(err.to_string().starts_with(&expected), "{err}");
}

#[tokio::test]
async fn a_write_into_an_unwritable_directory_fails_and_keeps_the_saved_state() {
    let dir = temp_dir("bad-unwritable");
    let store = JsonFiles::open(dir.path()).unwrap();
    let k = key("notes");
    store.put(&k, &json!(["saved"])).await.unwrap();
    let _unwritable = Unwritable::new(dir.path()).expect(UNWRITABLE);
    let err = store.put(&k, &json!(["lost?"])).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Backend {
                operation: "write",
                ..
            }
        ),
        "{err:?}"
    );
    let expected = format!("write of `notes` in {} failed: ", json_name(dir.path()));
    assert!(err.to_string().starts_with(&expected), "{err}");
    // The saved state is as it was, readable, with no temporary file beside it (only the
    // directory's lock file).
    let kept = store.get(&k).await.unwrap().unwrap();
    assert_eq!((kept.value, kept.version), (json!(["saved"]), 1));
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, [".lock", "notes.json"]);
}

#[tokio::test]
async fn a_file_that_is_not_an_sqlite_database_is_refused_and_left_alone() {
    let dir = temp_dir("bad-not-sqlite");
    let path = dir.path().join("state.db");
    let garbage =
        b"this is a text file, not an SQLite database; nothing may overwrite it\n".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let err = Sqlite::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open sqlite {}: file is not a database",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[tokio::test]
async fn a_truncated_sqlite_database_is_refused_when_opened() {
    let dir = temp_dir("bad-sqlite-truncated");
    let path = dir.path().join("state.db");
    let store = Sqlite::open(&path).await.unwrap();
    // Enough rows for the table to span many pages.
    for i in 0..200 {
        let value = json!({ "n": i, "text": "x".repeat(500) });
        store
            .put(&key(&format!("agents/{i:03}")), &value)
            .await
            .unwrap();
    }
    // The store's thread closes its connection once the store is dropped; the last
    // connection to close checkpoints the WAL into the database file and removes it.
    drop(store);
    let wal = dir.path().join("state.db-wal");
    for _ in 0..250 {
        if !wal.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!wal.exists(), "the WAL was not checkpointed");
    let whole = std::fs::read(&path).unwrap();
    assert!(whole.len() > 40_000, "{} bytes", whole.len());
    std::fs::write(&path, &whole[..whole.len() / 3]).unwrap();

    // SQLite checks the file's size against its header: refused at once, left as it is.
    let err = Sqlite::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open sqlite {}: database disk image is malformed",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap().len(), whole.len() / 3);
}

#[tokio::test]
async fn rows_written_by_hand_that_the_store_did_not_write_are_corrupt() {
    let dir = temp_dir("bad-sqlite-rows");
    let path = dir.path().join("state.db");
    let store = Sqlite::open(&path).await.unwrap();
    store.put(&key("good"), &json!(1)).await.unwrap();
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "INSERT INTO plan_state VALUES ('not-json', 1, '[1, 2');
             INSERT INTO plan_state VALUES ('negative', -3, '1');
             INSERT INTO plan_state VALUES ('blob', 1, x'00ff');
             INSERT INTO plan_state VALUES ('text-version', 'two', '1');",
        )
        .unwrap();
    }
    let name = format!("sqlite {}", path.display());
    for (k, reason) in [
        ("not-json", "EOF while parsing a list"),
        ("negative", "its version is -3"),
        ("blob", "its value: "),
        ("text-version", "its version: "),
    ] {
        let err = store.get(&key(k)).await.unwrap_err();
        assert_corrupt(&err, &name, k);
        assert!(err.to_string().contains(reason), "{k}: {err}");
    }
    // A write is guarded by the version: one over a version that is not one is refused...
    for k in ["negative", "text-version"] {
        let err = store.put(&key(k), &json!(2)).await.unwrap_err();
        assert_corrupt(&err, &name, k);
    }
    // ...while a value is checked when it is read, as in Redis: a blind write replaces it
    // (a load of it fails, so no save follows one).
    assert_eq!(store.put(&key("not-json"), &json!(2)).await.unwrap(), 2);
    assert_eq!(
        store.get(&key("not-json")).await.unwrap().unwrap().value,
        json!(2)
    );
    assert_eq!(
        store.get(&key("good")).await.unwrap().unwrap().value,
        json!(1)
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_sqlite_file_that_cannot_be_made_is_an_error_naming_the_store() {
    let err = Sqlite::open("/proc/plan-state-test.db").await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot open sqlite /proc/plan-state-test.db: "),
        "{err}"
    );
}
