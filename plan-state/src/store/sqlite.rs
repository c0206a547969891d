//! [`Sqlite`]: the embedded store, SQLite in WAL mode on a thread of its own.

mod group;

use std::path::Path;
use std::sync::{Arc, mpsc};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Conflict, Expect, Key, Store, StoreError, Versioned, version};
use group::{Job, Shared, Write};

/// SQLite (bundled, so nothing to install), in WAL mode, with a thread of its own: reads, and
/// writes that would wait, run there, never on the runtime; operations run one at a time, so
/// compare-and-set is atomic; several processes may share the file (SQLite locks it).
///
/// Writes are committed in groups: every write waiting when a transaction begins shares it (as
/// a database's log writer does), so that concurrent writers — the branches of a durable
/// fan-out journaling their outputs — pay one commit between them. A write that finds the
/// store idle commits on the writer's own thread, as a direct call of SQLite would: a journal
/// writing its steps in turn pays SQLite's commit, and not the trip to another thread and back
/// (which costs more). That holds the runtime's thread for one commit of at most 64 writes or
/// 64 KiB; a larger write, one that finds the store busy, and one that would wait for another
/// process's lock go to the store's thread instead, as does the copying of the write-ahead log
/// into the database (checkpoints). A write returns only once its transaction has committed;
/// if the commit fails, every write of the group fails with its error, and none of them is
/// kept.
///
/// Durability is SQLite's in WAL mode with `synchronous = NORMAL`: a committed write survives
/// the process's crash (`kill -9`), and the database is never corrupted; a power loss or an
/// operating system crash may lose the last commits before a checkpoint.
///
/// One table, `plan_state(key TEXT PRIMARY KEY, version INTEGER, value TEXT)`. A value is
/// checked when it is read (a row written by hand that is not JSON is
/// [`StoreError::Corrupt`]); a write checks only the version it replaces, since reading a
/// large value back costs more than writing the new one.
pub struct Sqlite {
    // Dropped before `jobs`, whose end stops the store's thread: the thread then holds the last
    // reference, and the connection closes there (closing the last one checkpoints the log).
    shared: Arc<Shared>,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sqlite").field(&self.shared.name).finish()
    }
}

impl Sqlite {
    /// The store in the database file at `path`, made if missing; named `sqlite PATH`. A
    /// file that is not an SQLite database is refused ([`StoreError::Open`]), and left as it is.
    ///
    /// ```
    /// use plan_state::store::{Sqlite, Store};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("plan-state-doc-{}.db", std::process::id()));
    /// let store = Sqlite::open(&path).await.unwrap();
    /// assert_eq!(store.name(), format!("sqlite {}", path.display()));
    /// # drop(store);
    /// # for end in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{end}", path.display())); }
    /// # });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let name = format!("sqlite {}", path.display());
        Self::start(move || Connection::open(&path), name.into()).await
    }

    /// A store in memory, gone when dropped (for tests); named `sqlite in memory`.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        Self::start(Connection::open_in_memory, "sqlite in memory".into()).await
    }

    async fn start(
        connect: impl FnOnce() -> rusqlite::Result<Connection> + Send + 'static,
        name: Arc<str>,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, opened) = tokio::sync::oneshot::channel();
        let store = Arc::clone(&name);
        std::thread::Builder::new()
            .name("plan-state-sqlite".to_owned())
            .spawn(move || {
                let connection = connect().and_then(|c| {
                    c.pragma_update(None, "journal_mode", "WAL")?;
                    c.pragma_update(None, "synchronous", "NORMAL")?;
                    // This thread checkpoints (see `group`).
                    c.pragma_update(None, "wal_autocheckpoint", 0)?;
                    c.busy_timeout(group::BUSY_TIMEOUT)?;
                    c.execute_batch(
                        "CREATE TABLE IF NOT EXISTS plan_state (
                             key TEXT PRIMARY KEY, version INTEGER NOT NULL, value TEXT NOT NULL)",
                    )?;
                    Ok(c)
                });
                let shared = match connection {
                    Ok(c) => Arc::new(Shared::new(c, store)),
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(Arc::clone(&shared)));
                // Ends when the store (the last sender) is dropped.
                group::serve(&shared, queue);
            })
            .map_err(|e| StoreError::open(&name, e))?;
        let closed = || StoreError::Closed {
            store: name.to_string(),
        };
        let shared = opened
            .await
            .map_err(|_| closed())?
            .map_err(|e| StoreError::open(&name, e))?;
        Ok(Sqlite { shared, jobs })
    }

    /// Runs `work` on the store's thread, with the store's name.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job::Run(Box::new(move |connection, store| {
                let _ = reply.send(work(connection, store));
            })))
            .map_err(|_| self.closed())?;
        answer.await.map_err(|_| self.closed())?
    }

    fn closed(&self) -> StoreError {
        StoreError::Closed {
            store: self.shared.name.to_string(),
        }
    }
}

fn current(
    connection: &Connection,
    store: &str,
    key: &str,
) -> Result<Option<Versioned>, StoreError> {
    // The row's cells are read inside the query but judged after it: a query that fails is
    // the backend's error, a cell of the wrong type (a row written by hand) a corrupt value.
    // Cached statements: a journal writes once per node, and parsing each statement anew
    // costs as much as running it.
    let row = connection
        .prepare_cached("SELECT version, value FROM plan_state WHERE key = ?1")
        .and_then(|mut query| {
            query.query_row(params![key], |row| {
                Ok((row.get::<_, i64>(0), row.get::<_, String>(1)))
            })
        })
        .optional()
        .map_err(|e| StoreError::backend(store, "read", key, e))?;
    let Some((version, text)) = row else {
        return Ok(None);
    };
    let corrupt = |reason: String| StoreError::corrupt(store, key, reason);
    let version = version.map_err(|e| corrupt(format!("its version: {e}")))?;
    let version = u64::try_from(version)
        .ok()
        .filter(|&v| version::is_valid(v))
        .ok_or_else(|| corrupt(format!("its version is {version}")))?;
    let text = text.map_err(|e| corrupt(format!("its value: {e}")))?;
    let value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(Versioned { value, version }))
}

/// The version under `key`, checked as [`current`] checks it, without reading the value:
/// for a large value, reading it costs more than writing the new one. (The value is checked
/// when it is read, as in Redis; a write is guarded by the version.) A version that fails the
/// check is left to `current`, which says what is wrong with it.
fn current_version(
    connection: &Connection,
    store: &str,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    let row = connection
        .prepare_cached("SELECT version FROM plan_state WHERE key = ?1")
        .and_then(|mut query| {
            query.query_row(params![key], |row| Ok(row.get_ref(0)?.as_i64().ok()))
        })
        .optional()
        .map_err(|e| StoreError::backend(store, "read", key, e))?;
    match row {
        None => Ok(None),
        Some(Some(version)) if version > 0 => Ok(Some(version as u64)),
        Some(_) => Ok(current(connection, store, key)?.map(|found| found.version)),
    }
}

/// Writes `value` if `expect` holds, inside the transaction the caller holds open.
fn write_in(
    connection: &Connection,
    store: &str,
    key: &str,
    expect: Expect,
    value: &str,
) -> Result<Result<u64, Conflict>, StoreError> {
    let failed = |e| StoreError::backend(store, "write", key, e);
    if expect == Expect::Anything {
        // One statement: the version is raised in place, and only from one a store writes
        // below the largest; any other leaves the row alone for the checked path below to
        // say what is wrong with it.
        let written = connection
            .prepare_cached(
                "INSERT INTO plan_state (key, version, value) VALUES (?1, 1, ?2)
                 ON CONFLICT(key) DO UPDATE SET version = version + 1, value = excluded.value
                 WHERE typeof(version) = 'integer' AND version BETWEEN 1 AND ?3
                 RETURNING version",
            )
            .and_then(|mut upsert| {
                upsert
                    .query_row(params![key, value, version::MAX as i64 - 1], |row| {
                        row.get::<_, i64>(0)
                    })
                    .optional()
            })
            .map_err(failed)?;
        if let Some(written) = written {
            return Ok(Ok(written as u64));
        }
    }
    let found = current_version(connection, store, key)?;
    if let Expect::Version(expected) = expect
        && expected != found
    {
        return Ok(Err(Conflict {
            expected,
            current: current(connection, store, key)?,
        }));
    }
    let next = version::next(found).map_err(|reason| StoreError::corrupt(store, key, reason))?;
    connection
        .prepare_cached(
            "INSERT INTO plan_state (key, version, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET version = excluded.version, value = excluded.value",
        )
        .and_then(|mut insert| insert.execute(params![key, next as i64, value]))
        .map_err(failed)?;
    Ok(Ok(next))
}

impl Store for Sqlite {
    fn name(&self) -> &str {
        &self.shared.name
    }

    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        let (done, mut written) = tokio::sync::oneshot::channel();
        self.shared.push(Write {
            key: key.to_string(),
            expect,
            value: value.to_string(),
            done,
        });
        let mut handoff = Handoff {
            jobs: &self.jobs,
            armed: true,
        };
        // Lets the writes made in this turn of the runtime (a fan-out's other branches) queue
        // up behind this one, to share its commit.
        yield_once().await;
        let checkpoint_due = self.shared.commit_here();
        if checkpoint_due {
            let _ = self.jobs.send(Job::Checkpoint);
        }
        if let Ok(outcome) = written.try_recv() {
            handoff.armed = false;
            return outcome;
        }
        handoff.send().map_err(|_| self.closed())?;
        written.await.map_err(|_| self.closed())?
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let key = key.to_string();
        self.run(move |c, store| current(c, store, &key)).await
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.run(move |c, store| {
            c.execute("DELETE FROM plan_state WHERE key = ?1", params![key])
                .map(|n| n > 0)
                .map_err(|e| StoreError::backend(store, "delete", &key, e))
        })
        .await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        let prefix = prefix.to_owned();
        self.run(move |c, store| {
            let failed = |e| StoreError::backend(store, "list", &prefix, e);
            // A range of the primary key, not a scan of every row: the keys from `prefix` up
            // to `prefix` followed by the greatest character are exactly those it starts.
            let mut query = c
                .prepare_cached(
                    "SELECT key FROM plan_state WHERE key >= ?1 AND key < ?1 || char(1114111) ORDER BY key",
                )
                .map_err(failed)?;
            // Bytes, judged after the query: a key's cell written by another client may be
            // text that is not UTF-8.
            let rows = query
                .query_map(params![prefix], |row| Ok(row.get_ref(0)?.as_bytes()?.to_vec()))
                .map_err(failed)?;
            let mut keys = Vec::new();
            for row in rows {
                let key = String::from_utf8(row.map_err(failed)?).map_err(|e| {
                    let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    StoreError::corrupt(store, &shown, "the key is not UTF-8")
                })?;
                // A row written by hand may hold a key this crate would refuse.
                let valid =
                    Key::new(key.as_str()).map_err(|e| StoreError::corrupt(store, &key, e))?;
                keys.push(valid);
            }
            Ok(keys)
        })
        .await
    }
}

/// A write queued and not yet answered: unless answered, it is the store thread's when this is
/// sent or dropped, so that a write whose caller gave up while it waited is still committed,
/// as one already handed over would be.
struct Handoff<'a> {
    jobs: &'a mpsc::Sender<Job>,
    armed: bool,
}

impl Handoff<'_> {
    fn send(&mut self) -> Result<(), mpsc::SendError<Job>> {
        self.armed = false;
        self.jobs.send(Job::Flush)
    }
}

impl Drop for Handoff<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.send();
        }
    }
}

/// Pending once, having asked to be polled again: the tasks and branches ready to run get their
/// turn first. Not `tokio::task::yield_now`, which holds the wake back until the runtime has
/// polled its I/O driver: a system call on every write of a lone writer.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|task| {
        if std::mem::replace(&mut yielded, true) {
            return std::task::Poll::Ready(());
        }
        task.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}
