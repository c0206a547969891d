//! [`JsonFiles`]: a directory of JSON files, one per key, written atomically.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// `json files at DIR`.
    name: Arc<str>,
    writes: tokio::sync::Mutex<()>,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u64,
    value: serde_json::Value,
}

impl JsonFiles {
    /// The store in `dir`, made if missing; named `json files at DIR`.
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
        fs::create_dir_all(&dir).map_err(|e| StoreError::open(&name, e))?;
        Ok(JsonFiles {
            dir,
            name,
            writes: tokio::sync::Mutex::new(()),
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
        let _one_writer = self.writes.lock().await;
        let (path, key, value) = (self.path(key), key.clone(), value.clone());
        self.blocking(move |store| {
            let current = read(store, &path, &key)?;
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
        let _one_writer = self.writes.lock().await;
        let (path, key) = (self.path(key), key.clone());
        self.blocking(move |store| match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::backend(store, "delete", key.as_str(), e)),
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
    let file: File = serde_json::from_slice(&bytes).map_err(|e| {
        StoreError::corrupt(store, key.as_str(), format!("{}: {e}", path.display()))
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
