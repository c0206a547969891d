//! Saving and loading a 1 MiB agent state through the plan steps (`Persist::save`,
//! `Persist::load`), in JSON files and in SQLite, against a raw `rusqlite` insert and select
//! of the same bytes, and against the serde work that every save and load does.
//!
//! `cargo bench -p plan-state --bench state -- --warm-up-time 1 --measurement-time 3`

use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use plan_runtime::prelude::*;
use plan_state::persist::{Persist, Stored};
use plan_state::store::{JsonFiles, Key, Sqlite};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// An agent state: a transcript of notes, 1 MiB as JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    turns: u64,
    notes: Vec<String>,
}

const MIB: usize = 1 << 20;

fn state() -> State {
    let mut state = State::default();
    let note = "an observation of the agent, a tool's output, a line of a reply; ".repeat(16);
    while serde_json::to_string(&state).unwrap().len() < MIB {
        state.turns += 1;
        state.notes.push(format!("{} {note}", state.turns));
    }
    state
}

/// A directory of the bench's own under the system's temporary one, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("plan-state-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key() -> Key {
    Key::new("agents/ada/state").unwrap()
}

/// Saves through the plan step `save`, from `stored`, which is kept at the latest version.
fn bench_save<P>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    save: &P,
    stored: &mut Stored<State>,
) where
    P: Plan<Stored<State>, Out = Stored<State>>,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let (latest, took) = rt.block_on(async {
                let mut current = stored.clone();
                let started = Instant::now();
                for _ in 0..iters {
                    // Each save hands the next one the version to compare with.
                    current = save.run(current).await.unwrap();
                }
                (current, started.elapsed())
            });
            *stored = latest;
            took
        })
    });
}

/// Loads through the plan step `load`.
fn bench_load<P>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    load: &P,
    turns: u64,
) where
    P: Plan<Key, Out = Stored<State>>,
{
    group.bench_function(name, |b| {
        b.to_async(rt).iter(|| async {
            let loaded = load.run(key()).await.unwrap();
            assert_eq!(loaded.state.turns, turns);
        })
    });
}

/// The baseline's database, set up as `Sqlite` sets up its own (WAL, `synchronous =
/// NORMAL`), with one table of the same columns.
fn raw_database(path: &Path) -> Connection {
    let connection = Connection::open(path).unwrap();
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .unwrap();
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .unwrap();
    connection
        .execute_batch(
            "CREATE TABLE state (key TEXT PRIMARY KEY, version INTEGER NOT NULL, value TEXT NOT NULL)",
        )
        .unwrap();
    connection
}

fn raw_insert(connection: &Connection, version: i64, json: &str) {
    connection
        .execute(
            "INSERT INTO state (key, version, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET version = excluded.version, value = excluded.value",
            params!["agents/ada/state", version, json],
        )
        .unwrap();
}

fn state_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let scratch = Scratch::new();
    let state = state();
    let json = serde_json::to_string(&state).unwrap();
    let bytes = Throughput::Bytes(json.len() as u64);

    let in_files: Persist<State, _> =
        Persist::new(JsonFiles::open(scratch.0.join("json")).unwrap());
    let sqlite = rt
        .block_on(Sqlite::open(scratch.0.join("state.db")))
        .unwrap();
    let in_sqlite: Persist<State, _> = Persist::new(sqlite);
    let (files_save, files_load) = (plan! { (in_files.save()) }, plan! { (in_files.load()) });
    let (sqlite_save, sqlite_load) = (plan! { (in_sqlite.save()) }, plan! { (in_sqlite.load()) });
    // The state written once in each store; the loads come first, so that each reads a
    // state written once (many saves later, a database's pages are laid out otherwise).
    let fresh = || Stored::new(key(), state.clone());
    let mut in_files_now = rt.block_on(files_save.run(fresh())).unwrap();
    let mut in_sqlite_now = rt.block_on(sqlite_save.run(fresh())).unwrap();
    let raw = raw_database(&scratch.0.join("raw.db"));
    let mut raw_version = 1;
    raw_insert(&raw, raw_version, &json);

    let mut load = c.benchmark_group("load 1 MiB");
    load.throughput(bytes.clone()).sample_size(20);
    bench_load(&mut load, &rt, "json files", &files_load, state.turns);
    bench_load(&mut load, &rt, "sqlite", &sqlite_load, state.turns);
    load.bench_function("rusqlite select (baseline)", |b| {
        b.iter(|| {
            let value: String = raw
                .query_row(
                    "SELECT value FROM state WHERE key = ?1",
                    params!["agents/ada/state"],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(value.len(), json.len());
        })
    });
    // What every load spends reading the JSON text into the state, whatever the store.
    load.bench_function("serde_json from_str + from_value", |b| {
        b.iter(|| {
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            serde_json::from_value::<State>(value).unwrap()
        })
    });
    load.finish();

    let mut save = c.benchmark_group("save 1 MiB");
    save.throughput(bytes).sample_size(20);
    bench_save(&mut save, &rt, "json files", &files_save, &mut in_files_now);
    bench_save(&mut save, &rt, "sqlite", &sqlite_save, &mut in_sqlite_now);
    save.bench_function("rusqlite insert (baseline)", |b| {
        b.iter(|| {
            raw_version += 1;
            raw_insert(&raw, raw_version, &json);
        })
    });
    // What every save spends turning the state into JSON text, whatever the store.
    save.bench_function("serde_json to_value + to_string", |b| {
        b.iter(|| serde_json::to_value(&state).unwrap().to_string())
    });
    save.finish();
}

criterion_group!(benches, state_benches);
criterion_main!(benches);
