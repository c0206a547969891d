//! Group commit: the store's thread commits the writes that queued up while it was busy in
//! one transaction, as a database's log writer does, so that concurrent writers pay one
//! commit between them instead of one each.

use std::sync::mpsc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::{Conflict, Expect, StoreError, write_in};

/// What the store's thread is given to do.
pub(super) enum Job {
    /// A write, committed together with the writes queued behind it.
    Write(Write),
    /// Anything else (a read, a delete, a listing), run alone.
    Run(Work),
}

/// Work run alone on the store's thread, given the connection and the store's name.
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

/// At most this many writes share a transaction: a 1,000-branch fan-out pays a commit or
/// two, and the first writer of a group does not wait on an unbounded one.
const GROUP: usize = 1024;

/// Runs the jobs of `queue` until every sender is gone: the jobs other than writes one at a
/// time, the writes in groups of those that arrived while the thread was busy.
pub(super) fn serve(connection: &mut Connection, store: &str, queue: mpsc::Receiver<Job>) {
    let mut next = queue.recv().ok();
    while let Some(job) = next.take() {
        match job {
            Job::Run(work) => work(connection, store),
            Job::Write(first) => {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match queue.try_recv() {
                        Ok(Job::Write(write)) => group.push(write),
                        // Jobs run in the order they came: a read queued after a write
                        // sees it.
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit(connection, store, group);
            }
        }
        if next.is_none() {
            next = queue.recv().ok();
        }
    }
}

/// Writes `group` in one transaction, then tells each writer its outcome: only after the
/// commit, so that no write is acknowledged before it is durable.
fn commit(connection: &mut Connection, store: &str, group: Vec<Write>) {
    match write_all(connection, store, &group) {
        Ok(outcomes) => {
            for (write, outcome) in group.into_iter().zip(outcomes) {
                let _ = write.done.send(outcome);
            }
        }
        // The transaction is rolled back (dropping it does): nothing of the group is kept,
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
fn write_all(
    connection: &mut Connection,
    store: &str,
    group: &[Write],
) -> Result<Vec<Outcome>, String> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let mut outcomes = Vec::with_capacity(group.len());
    for write in group {
        match write_in(&tx, store, &write.key, write.expect, &write.value) {
            Err(StoreError::Backend { source, .. }) => return Err(source.to_string()),
            outcome => outcomes.push(outcome),
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(outcomes)
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
