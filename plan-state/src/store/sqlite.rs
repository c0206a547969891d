//! [`Sqlite`]: the embedded store, SQLite in WAL mode on a thread of its own.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Conflict, Expect, Key, Store, StoreError, Versioned};

/// A job for the store's thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// SQLite (bundled, so nothing to install), in WAL mode, on a thread of its own: a query
/// never blocks the runtime, and the thread runs them one at a time, so compare-and-set is
/// atomic; several processes may share the file (SQLite locks it).
///
/// One table, `plan_state(key TEXT PRIMARY KEY, version INTEGER, value TEXT)`.
#[derive(Debug)]
pub struct Sqlite {
    jobs: mpsc::Sender<Job>,
}

impl Sqlite {
    /// The store in the database file at `path`, made if missing.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let shown = path.display().to_string();
        Self::start(move || Connection::open(&path), shown).await
    }

    /// A store in memory, gone when dropped (for tests).
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        Self::start(Connection::open_in_memory, ":memory:".to_owned()).await
    }

    async fn start(
        connect: impl FnOnce() -> rusqlite::Result<Connection> + Send + 'static,
        shown: String,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, opened) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("plan-state-sqlite".to_owned())
            .spawn(move || {
                let connection = connect().and_then(|c| {
                    c.pragma_update(None, "journal_mode", "WAL")?;
                    c.pragma_update(None, "synchronous", "NORMAL")?;
                    c.busy_timeout(std::time::Duration::from_secs(5))?;
                    c.execute_batch(
                        "CREATE TABLE IF NOT EXISTS plan_state (
                             key TEXT PRIMARY KEY, version INTEGER NOT NULL, value TEXT NOT NULL)",
                    )?;
                    Ok(c)
                });
                let mut connection = match connection {
                    Ok(c) => {
                        let _ = ready.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                // Ends when the store (the last sender) is dropped.
                for job in queue {
                    job(&mut connection);
                }
            })
            .map_err(|e| backend("open", &shown, e))?;
        opened
            .await
            .map_err(|_| StoreError::Closed)?
            .map_err(|e| backend("open", &shown, e))?;
        Ok(Sqlite { jobs })
    }

    /// Runs `work` on the store's thread.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |connection| {
                let _ = reply.send(work(connection));
            }))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn backend(
    operation: &'static str,
    key: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend {
        operation,
        key: key.to_owned(),
        source: Box::new(source),
    }
}

fn current(connection: &Connection, key: &str) -> Result<Option<Versioned>, StoreError> {
    let row: Option<(i64, String)> = connection
        .query_row(
            "SELECT version, value FROM plan_state WHERE key = ?1",
            params![key],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(|e| backend("read", key, e))?;
    row.map(|(version, text)| {
        let value = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Versioned {
            value,
            version: version as u64,
        })
    })
    .transpose()
}

/// Writes `value` if `expect` holds, in one transaction.
fn write_if(
    connection: &mut Connection,
    key: &str,
    expect: Expect,
    value: &str,
) -> Result<Result<u64, Conflict>, StoreError> {
    let tx = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| backend("write", key, e))?;
    let found = current(&tx, key)?;
    let version = found.as_ref().map(|c| c.version);
    if let Expect::Version(expected) = expect
        && expected != version
    {
        return Ok(Err(Conflict {
            expected,
            current: found,
        }));
    }
    let next = version.unwrap_or(0) + 1;
    tx.execute(
        "INSERT INTO plan_state (key, version, value) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET version = excluded.version, value = excluded.value",
        params![key, next as i64, value],
    )
    .map_err(|e| backend("write", key, e))?;
    tx.commit().map_err(|e| backend("write", key, e))?;
    Ok(Ok(next))
}

impl Store for Sqlite {
    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.run(move |c| write_if(c, &key, expect, &value)).await
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let key = key.to_string();
        self.run(move |c| current(c, &key)).await
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.run(move |c| {
            c.execute("DELETE FROM plan_state WHERE key = ?1", params![key])
                .map(|n| n > 0)
                .map_err(|e| backend("delete", &key, e))
        })
        .await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        let prefix = prefix.to_owned();
        self.run(move |c| {
            let mut query = c
                .prepare(
                    "SELECT key FROM plan_state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
                )
                .map_err(|e| backend("list", &prefix, e))?;
            let rows = query
                .query_map(params![prefix], |row| row.get::<_, String>(0))
                .map_err(|e| backend("list", &prefix, e))?;
            let mut keys = Vec::new();
            for row in rows {
                let key = row.map_err(|e| backend("list", &prefix, e))?;
                keys.push(Key::new(key)?);
            }
            Ok(keys)
        })
        .await
    }
}
