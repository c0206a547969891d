//! Group commit: writes wait in one queue, and whoever holds the connection next commits
//! every write waiting in one transaction, as a database's log writer does, so that concurrent
//! writers pay one commit between them. A writer that finds the connection free commits on its
//! own thread ([`Shared::commit_here`]): a lone writer — a journal writing its steps in turn —
//! then pays SQLite's commit and no trip to the store's thread and back, which costs more than
//! the commit itself. The store's thread takes what a writer cannot do there: a write that
//! finds the connection busy, or too large to block a runtime's thread on, or that would wait
//! on another process's lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};
use tokio::sync::oneshot;

use super::{Conflict, Expect, StoreError, write_in};

/// What the store's thread is given to do.
pub(super) enum Job {
    /// Commit the writes waiting, if any are left.
    Flush,
    /// Copy the write-ahead log into the database ([`CHECKPOINT_AFTER`]).
    Checkpoint,
    /// Anything else (a read, a delete, a listing).
    Run(Work),
}

/// Work run on the store's thread, given the connection and the store's name.
pub(super) type Work = Box<dyn FnOnce(&mut Connection, &str) + Send>;

/// One write, and where its outcome goes once its transaction has committed (or failed).
pub(super) struct Write {
    pub key: String,
    pub expect: Expect,
    /// The value, as JSON text.
    pub value: String,
    pub done: oneshot::Sender<Outcome>,
}

/// What a write comes to: its new version, a conflict, or an error.
pub(super) type Outcome = Result<Result<u64, Conflict>, StoreError>;

/// At most this many writes share a transaction on the store's thread: a 1,000-branch fan-out
/// pays a commit or two, and the first writer of a group does not wait on an unbounded one.
const GROUP: usize = 1024;

/// A writer's own thread commits at most this many writes, of at most this many bytes between
/// them (a larger single write goes to the store's thread): it is a runtime's thread, which
/// should not be held for long.
const HERE_WRITES: usize = 64;
const HERE_BYTES: usize = 64 * 1024;

/// How long SQLite waits for another process's lock, on the store's thread. A writer's own
/// thread does not wait: the store's thread takes its group instead.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The store's thread copies the write-ahead log into the database after about this many
/// writes, as SQLite would after about as many pages, had its own checkpoints (which would run
/// in whichever commit crossed the line, on a runtime's thread too) not been turned off.
const CHECKPOINT_AFTER: usize = 1000;

/// What the store's thread and its writers share.
pub(super) struct Shared {
    connection: Mutex<Connection>,
    /// The writes waiting for a commit, in the order they came.
    waiting: Mutex<VecDeque<Write>>,
    /// Writes committed since the store opened, for [`CHECKPOINT_AFTER`].
    committed: AtomicUsize,
    /// The store's name.
    pub name: std::sync::Arc<str>,
}

impl Shared {
    pub fn new(connection: Connection, name: std::sync::Arc<str>) -> Self {
        Shared {
            connection: Mutex::new(connection),
            waiting: Mutex::default(),
            committed: AtomicUsize::new(0),
            name,
        }
    }

    // A panic while one of these was held (in SQLite's wrapper, or a writer's answer) left
    // nothing half-done that the next holder could see: a transaction is rolled back when it
    // is dropped, and the queue is only pushed to and popped from.
    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn waiting(&self) -> MutexGuard<'_, VecDeque<Write>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `write` for the next commit.
    pub fn push(&self, write: Write) {
        self.waiting().push_back(write);
    }

    /// The first writes waiting, up to `writes` of them and `bytes` between them (the first
    /// one alone may be larger only if `bytes` is unbounded).
    fn take(&self, writes: usize, bytes: usize) -> Vec<Write> {
        let mut waiting = self.waiting();
        let mut group = Vec::new();
        let mut size = 0;
        while group.len() < writes
            && let Some(next) = waiting.front()
            && size + next.value.len() <= bytes
        {
            size += next.value.len();
            group.extend(waiting.pop_front());
        }
        group
    }

    /// Puts `group`, which could not be committed here, back at the head of the queue.
    fn put_back(&self, group: Vec<Write>) {
        let mut waiting = self.waiting();
        for write in group.into_iter().rev() {
            waiting.push_front(write);
        }
    }

    /// Counts `writes` committed; whether a checkpoint is now due (the count crossed a
    /// multiple of [`CHECKPOINT_AFTER`]).
    fn committed(&self, writes: usize) -> bool {
        let before = self.committed.fetch_add(writes, Ordering::Relaxed);
        before / CHECKPOINT_AFTER != (before + writes) / CHECKPOINT_AFTER
    }

    /// Commits the first writes waiting on the caller's thread, if the connection is free and
    /// they are small: never waits, for the connection or for another process's lock. What it
    /// leaves (all, if it could not commit) is the store thread's. Whether a checkpoint is now
    /// due.
    pub fn commit_here(&self) -> bool {
        let Ok(connection) = self.connection.try_lock() else {
            return false;
        };
        let group = self.take(HERE_WRITES, HERE_BYTES);
        if group.is_empty() {
            return false;
        }
        // With no busy timeout, `BEGIN IMMEDIATE` fails at once if another process is writing.
        let began = connection
            .busy_timeout(Duration::ZERO)
            .and_then(|()| Tx::begin(&connection));
        let _ = connection.busy_timeout(BUSY_TIMEOUT);
        match began {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::DatabaseBusy => {
                self.put_back(group);
                false
            }
            began => {
                let written = group.len();
                commit(began, &self.name, group);
                self.committed(written)
            }
        }
    }
}

/// Runs `queue`'s jobs until every sender is gone; each holds the connection while it runs.
pub(super) fn serve(shared: &Shared, queue: mpsc::Receiver<Job>) {
    for job in queue {
        let mut connection = shared.connection();
        match job {
            Job::Run(work) => work(&mut connection, &shared.name),
            Job::Flush => loop {
                let group = shared.take(GROUP, usize::MAX);
                if group.is_empty() {
                    break;
                }
                let written = group.len();
                let tx = Tx::begin(&connection);
                commit(tx, &shared.name, group);
                if shared.committed(written) {
                    checkpoint(&connection);
                }
            },
            Job::Checkpoint => checkpoint(&connection),
        }
    }
}

/// A passive checkpoint: it copies what no reader still needs, and waits for no one. A
/// failure is left for the next one (the log keeps every commit meanwhile).
fn checkpoint(connection: &Connection) {
    let _ = connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
}

/// Writes `group` in the transaction `tx` began, then tells each writer its outcome: only
/// after the commit, so that no write is acknowledged before it is durable.
fn commit(tx: rusqlite::Result<Tx<'_>>, store: &str, group: Vec<Write>) {
    match tx
        .map_err(|e| e.to_string())
        .and_then(|tx| write_all(tx, store, &group))
    {
        Ok(outcomes) => {
            for (write, outcome) in group.into_iter().zip(outcomes) {
                let _ = write.done.send(outcome);
            }
        }
        // The transaction is rolled back (dropping `Tx` does): nothing of the group is kept,
        // and every writer hears why.
        Err(reason) => {
            for write in group {
                let error = StoreError::backend(store, "write", &write.key, reason.clone());
                let _ = write.done.send(Err(error));
            }
        }
    }
}

/// Each write's outcome, once all are committed; or why the transaction failed. A write
/// refused on its own (a conflict, a stored version no write can raise) is that write's
/// outcome; a failure of SQLite itself (I/O, a full disk, a lock held too long) fails the
/// transaction, since SQLite may have rolled it back already.
fn write_all(tx: Tx<'_>, store: &str, group: &[Write]) -> Result<Vec<Outcome>, String> {
    let mut outcomes = Vec::with_capacity(group.len());
    for write in group {
        match write_in(tx.0, store, &write.key, write.expect, &write.value) {
            Err(StoreError::Backend { source, .. }) => return Err(source.to_string()),
            outcome => outcomes.push(outcome),
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(outcomes)
}

/// A transaction, begun and committed with cached statements: rusqlite's `Transaction` parses
/// `BEGIN` and `COMMIT` anew each time, which costs about a tenth of a small write. Rolled back
/// when dropped uncommitted (a commit that failed included).
struct Tx<'c>(&'c Connection);

impl<'c> Tx<'c> {
    /// `BEGIN IMMEDIATE`: the write lock is taken now, so that no statement of the group, nor
    /// the commit, can find it taken.
    fn begin(connection: &'c Connection) -> rusqlite::Result<Self> {
        connection.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Tx(connection))
    }

    fn commit(self) -> rusqlite::Result<()> {
        self.0.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use futures::future::join_all;
    use rusqlite::Connection;
    use serde_json::json;

    use super::super::Sqlite;
    use super::Job;
    use crate::store::{Key, Store, StoreError};

    /// A store whose thread is held until the returned sender is dropped: whatever is queued
    /// meanwhile is one group when it is let go.
    fn held(store: &Sqlite) -> std::sync::mpsc::Sender<()> {
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let wait = Job::Run(Box::new(move |_, _| while held.recv().is_ok() {}));
        store.jobs.send(wait).unwrap();
        hold
    }

    fn keys(n: usize) -> Vec<Key> {
        (0..n)
            .map(|i| Key::new(format!("runs/r/nodes/{i}")).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn writes_queued_while_the_thread_is_busy_commit_together_and_read_back() {
        let store = Sqlite::open_in_memory().await.unwrap();
        let keys = keys(200);
        let values: Vec<_> = (0..200).map(|i| json!(i)).collect();
        let hold = held(&store);
        let mut writes = pin!(join_all(
            keys.iter()
                .zip(&values)
                .map(|(key, value)| store.put(key, value))
        ));
        // Every write is queued behind the held thread, none answered.
        assert!(futures::poll!(writes.as_mut()).is_pending());
        drop(hold);
        let versions: Vec<u64> = writes.await.into_iter().map(Result::unwrap).collect();
        assert_eq!(versions, vec![1; 200]);
        for (key, value) in keys.iter().zip(&values) {
            assert_eq!(&store.get(key).await.unwrap().unwrap().value, value);
        }
    }

    #[tokio::test]
    async fn a_commit_that_fails_fails_every_write_of_its_group_and_keeps_none() {
        // A trigger that breaks a deferred foreign key when `.../poison` is written: every
        // statement succeeds, and the commit fails.
        let store = Sqlite::start(
            || {
                let c = Connection::open_in_memory()?;
                c.pragma_update(None, "foreign_keys", "ON")?;
                c.execute_batch(
                    "CREATE TABLE plan_state (
                         key TEXT PRIMARY KEY, version INTEGER NOT NULL, value TEXT NOT NULL);
                     CREATE TABLE parent (id TEXT PRIMARY KEY);
                     CREATE TABLE child (
                         parent TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                     CREATE TRIGGER poison AFTER INSERT ON plan_state
                         WHEN NEW.key LIKE '%/poison'
                         BEGIN INSERT INTO child VALUES ('missing'); END;",
                )?;
                Ok(c)
            },
            "sqlite poisoned".into(),
        )
        .await
        .unwrap();
        let mut keys = keys(50);
        keys.push(Key::new("runs/r/nodes/poison").unwrap());
        let one = json!(1);
        let hold = held(&store);
        let mut writes = pin!(join_all(keys.iter().map(|key| store.put(key, &one))));
        assert!(futures::poll!(writes.as_mut()).is_pending());
        drop(hold);
        for (key, written) in keys.iter().zip(writes.await) {
            let err = written.unwrap_err();
            assert!(matches!(err, StoreError::Backend { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "write of `{key}` in sqlite poisoned failed: FOREIGN KEY constraint failed"
                )
            );
        }
        for key in &keys {
            assert_eq!(store.get(key).await.unwrap(), None, "{key} was rolled back");
        }
        // The store goes on: the next group commits.
        assert_eq!(store.put(&keys[0], &json!(2)).await.unwrap(), 1);
    }
}
