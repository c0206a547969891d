//! What journaling costs: a 1,000-step chain run as a durable run on SQLite (a file, WAL),
//! against the same chain with no journal, and against 1,000 raw `rusqlite` upserts of the
//! same bytes with the same pragmas — the floor for writing each output as its step ends; and
//! a durable `each(all)` over 1,000 items, whose branches' outputs share transactions (group
//! commit), against the same 1,000 raw upserts. The chain also against the same upserts on a
//! thread of their own, each awaited: what a store that sent every write to its thread would
//! pay (the store commits a write that finds it idle on the writer's thread instead).
//!
//! `cargo bench -p plan-state --bench journal`

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use plan_runtime::prelude::*;
use plan_state::runs::Runs;
use plan_state::store::Sqlite;

async fn inc(x: u64) -> u64 {
    std::hint::black_box(x + 1)
}

/// 100 durable steps; ten of them make the 1,000-step chain (a flat 1,000-step `plan!` of
/// durable steps takes long to compile, and nesting costs one node per inner plan).
fn hundred() -> impl Plan<u64, Out = u64> {
    plan! {
        #![durable]
        inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc
    }
}

fn thousand() -> impl Plan<u64, Out = u64> {
    plan! {
        (hundred()) >> (hundred()) >> (hundred()) >> (hundred()) >> (hundred())
            >> (hundred()) >> (hundred()) >> (hundred()) >> (hundred()) >> (hundred())
    }
}

/// One durable step per item, each item a branch.
fn each_thousand() -> impl Plan<Vec<u64>, Out = Vec<u64>> {
    plan! { each(all) { #[durable] inc } }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn journal(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("plan-state-bench-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = runtime();
    let plan = thousand();
    assert_eq!(rt.block_on(plan.run(0)).unwrap(), 1_000);

    let runs = Runs::new(rt.block_on(Sqlite::open(dir.join("runs.db"))).unwrap());
    let next = AtomicU64::new(0);
    let raw = RawUpserts::open(&dir.join("raw.db"));

    let mut group = c.benchmark_group("journal_chain_1000");
    group.sample_size(20);
    group.bench_function("no_journal", |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run(std::hint::black_box(0)).await.unwrap() })
    });
    group.bench_function("durable_sqlite", |b| {
        b.to_async(&rt).iter(|| async {
            // A new run every time: 1,000 outputs journaled, and the run's record twice.
            let id = format!("r{}", next.fetch_add(1, Ordering::Relaxed));
            runs.run(&plan, &id, 0u64).await.unwrap()
        })
    });
    group.bench_function("raw_rusqlite_inserts", |b| b.iter(|| raw.thousand()));
    let on_a_thread = RawThread::open(&dir.join("thread.db"));
    group.bench_function("raw_rusqlite_inserts_on_a_thread", |b| {
        b.to_async(&rt).iter(|| on_a_thread.thousand())
    });
    group.finish();

    let each = each_thousand();
    let items: Vec<u64> = (0..1_000).collect();
    let outputs = rt.block_on(each.run(items.clone())).unwrap();
    assert_eq!(outputs, (1..=1_000).collect::<Vec<_>>());
    let mut group = c.benchmark_group("journal_each_1000");
    group.sample_size(20);
    group.bench_function("durable_sqlite", |b| {
        b.to_async(&rt).iter(|| async {
            let id = format!("e{}", next.fetch_add(1, Ordering::Relaxed));
            runs.run(&each, &id, items.clone()).await.unwrap()
        })
    });
    group.bench_function("raw_rusqlite_inserts", |b| b.iter(|| raw.thousand()));
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An upsert of a key's value, its version raised.
const UPSERT: &str = "INSERT INTO kv (key, value, version) VALUES (?1, ?2, 1) \
    ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = version + 1";

/// The floor: the same bytes (each step's output as JSON, under keys as long as the
/// journal's), one autocommitted upsert each, on a file with the store's pragmas.
struct RawUpserts {
    connection: rusqlite::Connection,
    round: std::cell::Cell<u64>,
}

impl RawUpserts {
    fn open(path: &std::path::Path) -> Self {
        let connection = rusqlite::Connection::open(path).unwrap();
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .unwrap();
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL)",
            )
            .unwrap();
        RawUpserts {
            connection,
            round: Default::default(),
        }
    }

    /// 1,000 upserts under new keys.
    fn thousand(&self) {
        let round = self.round.get() + 1;
        self.round.set(round);
        let mut insert = self.connection.prepare_cached(UPSERT).unwrap();
        for step in 1..=1_000u64 {
            let key = format!("runs/r{round}/nodes/{}-{}", step / 100, step % 100);
            insert.execute((key, step.to_string())).unwrap();
        }
    }
}

/// What an async caller that sends every write to SQLite's own thread pays: the same upserts
/// on a thread of their own, each awaited (a channel there, a oneshot back).
struct RawThread {
    jobs: std::sync::mpsc::Sender<(String, String, tokio::sync::oneshot::Sender<()>)>,
    round: std::cell::Cell<u64>,
}

impl RawThread {
    fn open(path: &std::path::Path) -> Self {
        let raw = RawUpserts::open(path);
        let (jobs, queue) =
            std::sync::mpsc::channel::<(String, String, tokio::sync::oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            let mut insert = raw.connection.prepare_cached(UPSERT).unwrap();
            while let Ok((key, value, done)) = queue.recv() {
                insert.execute((key, value)).unwrap();
                let _ = done.send(());
            }
        });
        RawThread {
            jobs,
            round: Default::default(),
        }
    }

    /// 1,000 upserts under new keys, one after another.
    async fn thousand(&self) {
        let round = self.round.get() + 1;
        self.round.set(round);
        for step in 1..=1_000u64 {
            let key = format!("runs/t{round}/nodes/{}-{}", step / 100, step % 100);
            let (done, written) = tokio::sync::oneshot::channel();
            self.jobs.send((key, step.to_string(), done)).unwrap();
            written.await.unwrap();
        }
    }
}

criterion_group!(benches, journal);
criterion_main!(benches);
