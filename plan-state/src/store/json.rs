//! [`JsonFiles`]: a directory of JSON files, one per key, written atomically.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::{Conflict, Expect, Key, Store, StoreError, Versioned};

/// One JSON file per key under a directory (`agents/ada` is `DIR/agents/ada.json`), holding
/// `{"version": N, "value": ..}`.
///
/// A write goes to a temporary file in the same directory, which is fsynced, renamed over
/// the key's file, and the directory fsynced: a crash or a failed write leaves the old file
/// as it was, never half of a new one. File work runs on tokio's blocking pool. Writes are
/// serialized within the store, so compare-and-set is atomic among the tasks sharing it;
/// processes sharing a directory should use [`Sqlite`](super::Sqlite) or Redis instead.
#[derive(Debug)]
pub struct JsonFiles {
    dir: PathBuf,
    writes: tokio::sync::Mutex<()>,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u64,
    value: serde_json::Value,
}

impl JsonFiles {
    /// The store in `dir`, made if missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| backend("open", &dir.display().to_string(), e))?;
        Ok(JsonFiles {
            dir,
            writes: tokio::sync::Mutex::new(()),
        })
    }

    fn path(&self, key: &Key) -> PathBuf {
        // `Key` admits no `..`, no empty segment and no leading `/`: this stays inside `dir`.
        self.dir.join(format!("{key}.json"))
    }

    /// Runs `work` on the blocking pool.
    async fn blocking<T: Send + 'static>(
        work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| StoreError::Closed)?
    }
}

impl Store for JsonFiles {
    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        let _one_writer = self.writes.lock().await;
        let (path, key, value) = (self.path(key), key.clone(), value.clone());
        Self::blocking(move || {
            let current = read(&path, &key)?;
            let version = current.as_ref().map(|c| c.version);
            if let Expect::Version(expected) = expect
                && expected != version
            {
                return Ok(Err(Conflict { expected, current }));
            }
            let next = version.unwrap_or(0) + 1;
            let file = File {
                version: next,
                value,
            };
            write_atomically(&path, &file).map_err(|e| backend("write", key.as_str(), e))?;
            Ok(Ok(next))
        })
        .await
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let (path, key) = (self.path(key), key.clone());
        Self::blocking(move || read(&path, &key)).await
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let _one_writer = self.writes.lock().await;
        let (path, key) = (self.path(key), key.clone());
        Self::blocking(move || match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(backend("delete", key.as_str(), e)),
        })
        .await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        let (dir, prefix) = (self.dir.clone(), prefix.to_owned());
        Self::blocking(move || {
            let mut keys = Vec::new();
            collect(&dir, "", &mut keys).map_err(|e| backend("list", &prefix, e))?;
            keys.retain(|k: &Key| k.as_str().starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
    }
}

fn backend(operation: &'static str, key: &str, source: io::Error) -> StoreError {
    StoreError::Backend {
        operation,
        key: key.to_owned(),
        source: Box::new(source),
    }
}

fn read(path: &Path, key: &Key) -> Result<Option<Versioned>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(backend("read", key.as_str(), e)),
    };
    let file: File = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Some(Versioned {
        value: file.value,
        version: file.version,
    }))
}

/// A number per temporary file, so that two writes never share one.
static TEMPORARY: AtomicU64 = AtomicU64::new(0);

fn write_atomically(path: &Path, file: &File) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("value");
    let n = TEMPORARY.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
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
