//! [`JsonFiles`]: a directory of JSON files, one per key, written atomically.

mod lock;
mod temporary;

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Conflict, Expect, Key, Store, StoreError, Versioned, version};
use lock::DirLock;

/// One JSON file per key under a directory (`agents/ada` is `DIR/agents/ada.json`), holding
/// `{"version": N, "value": ..}`.
///
/// A write goes to a temporary file in the same directory, which is fsynced, renamed over
/// the key's file, and the directory fsynced: a crash or a failed write leaves the old file
/// as it was, never half of a new one. File work runs on tokio's blocking pool.
///
/// # Several processes
///
/// Several processes (and several stores in one process) may share a directory on a local
/// filesystem: compare-and-set is exact across them. Every write and delete holds an advisory
/// lock on the file `DIR/.lock` (`flock` on Unix, `LockFileEx` on Windows) from its read of
/// the current version to the rename of its new file; a reader needs no lock, since a rename
/// replaces a file whole. The lock is advisory: a program that writes the files without it
/// (an editor, an older version of this crate) is not stopped. On a network filesystem
/// (NFS, SMB, many FUSE mounts) `flock` may be ignored or emulated per machine: share a
/// directory there from one machine at most, or use [`Sqlite`](super::Sqlite) on a local
/// disk or Redis.
///
/// Opening a store, under the lock, removes the temporary files of writes that were cut off
/// (a process killed mid-write); a live writer in another process holds the lock while its
/// temporary file exists, so its file is never taken for one of those. Temporary files
/// (`.NAME.json.PID.N.tmp`) and the lock file start with `.`, as no key's file does: they are
/// never listed as keys.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use plan_state::store::{JsonFiles, Key, Store};
/// use serde_json::json;
///
/// let dir = std::env::temp_dir().join(format!("plan-state-doc-shared-{}", std::process::id()));
/// // Two stores on one directory, as two processes would have: neither loses a write.
/// let (a, b) = (JsonFiles::open(&dir).unwrap(), JsonFiles::open(&dir).unwrap());
/// let key = Key::new("counter").unwrap();
/// let v1 = a.put(&key, &json!(1)).await.unwrap();
/// assert_eq!(b.compare_and_set(&key, Some(v1), &json!(2)).await.unwrap(), Ok(2));
/// assert!(a.compare_and_set(&key, Some(v1), &json!(3)).await.unwrap().is_err());
/// // The lock file is not a key.
/// assert_eq!(a.keys("").await.unwrap(), [key]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct JsonFiles {
    dir: PathBuf,
    /// `json files at DIR`.
    name: Arc<str>,
    lock: Arc<DirLock>,
    /// The store's own writes, one at a time. Needed, not only cheaper: the lock belongs to
    /// the open lock file, which the store's tasks share, so it does not exclude them from
    /// each other. Owned guards are moved into the blocking work, so that a write whose
    /// future is dropped still excludes the next one until its file work ends.
    writes: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u64,
    value: serde_json::Value,
}

impl JsonFiles {
    /// The store in `dir`, made if missing with its lock file `DIR/.lock`; named `json files
    /// at DIR`. Under the lock (so after waiting for another process's write in progress, if
    /// any), it removes the temporary files of writes that were cut off. A directory this
    /// process may only read, and where no lock file is, opens too: reads work, and a write
    /// fails naming the lock file it cannot make.
    ///
    /// ```
    /// use plan_state::store::{JsonFiles, Store};
    ///
    /// let dir = std::env::temp_dir().join(format!("plan-state-doc-open-{}", std::process::id()));
    /// let store = JsonFiles::open(&dir).unwrap();
    /// assert_eq!(store.name(), format!("json files at {}", dir.display()));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let name: Arc<str> = format!("json files at {}", dir.display()).into();
        let lock = (|| {
            fs::create_dir_all(&dir)?;
            let lock = DirLock::open(&dir)?;
            // Without a lock file, the directory is one this process may only read: it can
            // remove nothing there (and reads need no lock).
            if lock.is_open() {
                // Waits only for another process's write in progress, if any.
                let held = lock.hold()?;
                let removed = temporary::remove_leftovers(&dir)?;
                drop(held);
                if removed > 0 {
                    tracing::info!(store = %name, removed, "removed the temporary files of writes that were cut off");
                }
            }
            Ok::<_, io::Error>(lock)
        })()
        .map_err(|e| StoreError::open(&name, e))?;
        Ok(JsonFiles {
            dir,
            name,
            lock: Arc::new(lock),
            writes: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    fn path(&self, key: &Key) -> PathBuf {
        // `Key` admits no `..`, no empty segment and no leading `/`: this stays inside `dir`.
        self.dir.join(format!("{key}.json"))
    }

    /// Runs `work` on the blocking pool, with the store's name.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let name = Arc::clone(&self.name);
        tokio::task::spawn_blocking(move || work(&name))
            .await
            .map_err(|_| StoreError::Closed {
                store: self.name.to_string(),
            })?
    }

    /// Runs `operation`'s `work` on `key` as [`JsonFiles::blocking`] does, holding the
    /// store's turn and the directory's lock; a failure to take the lock is its failure.
    async fn locked<T: Send + 'static>(
        &self,
        operation: &'static str,
        key: &Key,
        work: impl FnOnce(&str, &Key) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let turn = Arc::clone(&self.writes).lock_owned().await;
        let (lock, key) = (Arc::clone(&self.lock), key.clone());
        self.blocking(move |store| {
            let _turn = turn;
            let _held = lock
                .hold()
                .map_err(|e| StoreError::backend(store, operation, key.as_str(), e))?;
            work(store, &key)
        })
        .await
    }
}

impl Store for JsonFiles {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        let (path, value) = (self.path(key), value.clone());
        self.locked("write", key, move |store, key| {
            let current = read(store, &path, key)?;
            let version = current.as_ref().map(|c| c.version);
            if let Expect::Version(expected) = expect
                && expected != version
            {
                return Ok(Err(Conflict { expected, current }));
            }
            let next = version::next(version).map_err(|reason| {
                StoreError::corrupt(store, key.as_str(), format!("{}: {reason}", path.display()))
            })?;
            let file = File {
                version: next,
                value,
            };
            write_atomically(&path, &file)
                .map_err(|e| StoreError::backend(store, "write", key.as_str(), e))?;
            Ok(Ok(next))
        })
        .await
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let (path, key) = (self.path(key), key.clone());
        self.blocking(move |store| read(store, &path, &key)).await
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let path = self.path(key);
        self.locked("delete", key, move |store, key| {
            match fs::remove_file(&path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(StoreError::backend(store, "delete", key.as_str(), e)),
            }
        })
        .await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        let (dir, prefix) = (self.dir.clone(), prefix.to_owned());
        self.blocking(move |store| {
            let mut keys = Vec::new();
            collect(&dir, "", &mut keys)
                .map_err(|e| StoreError::backend(store, "list", &prefix, e))?;
            keys.retain(|k: &Key| k.as_str().starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
    }
}

fn read(store: &str, path: &Path, key: &Key) -> Result<Option<Versioned>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::backend(store, "read", key.as_str(), e)),
    };
    let corrupt = |reason: String| {
        StoreError::corrupt(store, key.as_str(), format!("{}: {reason}", path.display()))
    };
    let file: File = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if !version::is_valid(file.version) {
        return Err(corrupt(format!("its version is {}", file.version)));
    }
    Ok(Some(Versioned {
        value: file.value,
        version: file.version,
    }))
}

fn write_atomically(path: &Path, file: &File) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let temporary = temporary::path_for(path);
    let written = (|| {
        let mut out = fs::File::create(&temporary)?;
        serde_json::to_writer(&mut out, file)?;
        out.flush()?;
        out.sync_all()?;
        fs::rename(&temporary, path)?;
        // The rename is durable once the directory is.
        fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// Every key's file under `dir` (whose keys start with `prefix`).
fn collect(dir: &Path, prefix: &str, keys: &mut Vec<Key>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // The lock file, temporary files and anything else hidden: no key's file or
        // directory starts with `.`.
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(&entry.path(), &format!("{prefix}{name}/"), keys)?;
        } else if let Some(stem) = name.strip_suffix(".json")
            && let Ok(key) = Key::new(format!("{prefix}{stem}"))
        {
            keys.push(key);
        }
    }
    Ok(())
}
