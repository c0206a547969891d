//! Fuzzing, on stable, of everything the stores and the layers over them read back from
//! outside the process: a `JsonFiles` key file of any content, SQLite rows of any type
//! written behind the store's back, durable run records and node outputs of any shape, and
//! persisted states (beliefs, episodes) of any shape. Arbitrary bytes and structure-aware
//! generators (a file or record almost right: a version out of range, a field of the wrong
//! type, nesting past serde_json's recursion limit, a document cut short).
//!
//! What must hold: no panic; every rejection a typed error naming the key (or the run); a
//! read never returns what the store would not have written; nothing already saved is lost.
//!
//! The default run is short. A longer one, for maintainers:
//! `PROPTEST_CASES=100000 cargo test -p plan-state --test fuzz --release`.

mod common;

use std::path::Path;

use common::{key, temp_dir};
use plan_runtime::prelude::*;
use plan_state::beliefs::{Beliefs, MAX_LOG_ODDS};
use plan_state::memory::Episodes;
use plan_state::persist::{Persist, PersistError};
use plan_state::runs::{RunError, RunStatus, Runs};
use plan_state::store::{InMemory, JsonFiles, Key, Sqlite, Store, StoreError};
use proptest::prelude::*;
use serde_json::{Value, json};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// Asserts that `err` is `Corrupt`, about `k` in `store`.
fn assert_corrupt(err: &StoreError, store: &str, k: &str) {
    match err {
        StoreError::Corrupt { store: s, key, .. } => {
            assert_eq!((s.as_str(), key.as_str()), (store, k), "{err}");
        }
        other => panic!("expected Corrupt about `{k}`, got {other:?}"),
    }
}

/// Any JSON value, of bounded size.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A number as a store file might hold one: in range or not, of any JSON spelling.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        // A version the store writes, for a third of the cases.
        6 => (1u64..1000).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => Just("9223372036854775807".to_owned()), // the largest version
        1 => Just("9223372036854775808".to_owned()),
        1 => Just("18446744073709551616".to_owned()), // past u64
        1 => Just("99999999999999999999999999999999999999".to_owned()),
        1 => Just("1e400".to_owned()),
        1 => Just("-0".to_owned()),
        1 => Just("0".to_owned()),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => Just("\"2\"".to_owned()),
        1 => Just("null".to_owned()),
    ]
}

/// JSON nested `depth` deep: arrays, objects, or both.
fn nested(depth: usize, kind: u8) -> String {
    let (open, close) = match kind % 3 {
        0 => ("[", "]"),
        1 => ("{\"a\":", "}"),
        _ => ("[{\"a\":", "}]"),
    };
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

/// A key file's content: arbitrary bytes, or a document close to the store's own.
fn key_file() -> impl Strategy<Value = Vec<u8>> {
    // Mostly whole documents, so that many are read as values and the rest miss by little.
    let document = (
        prop::option::weighted(0.9, number_text()),
        prop::option::weighted(
            0.9,
            prop_oneof![
                4 => json_value().prop_map(|v| v.to_string()),
                1 => (0usize..300, any::<u8>()).prop_map(|(depth, kind)| nested(depth, kind)),
            ],
        ),
        prop::option::weighted(0.2, json_value()),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(version, value, extra, twice)| {
            let mut fields = Vec::new();
            if let Some(version) = &version {
                fields.push(format!("\"version\":{version}"));
                if twice {
                    fields.push(format!("\"version\":{version}"));
                }
            }
            if let Some(value) = value {
                fields.push(format!("\"value\":{value}"));
            }
            if let Some(extra) = extra {
                fields.push(format!("\"extra\":{extra}"));
            }
            format!("{{{}}}", fields.join(",")).into_bytes()
        })
        .boxed();
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        3 => document.clone(),
        // Cut short, as by a writer that does not rename.
        1 => (document, any::<prop::sample::Index>()).prop_map(|(bytes, at)| {
            let at = at.index(bytes.len() + 1);
            bytes[..at].to_vec()
        }),
    ]
}

/// Checks one key file of content `bytes` under `k`, then removes it.
fn check_key_file(store: &JsonFiles, dir: &Path, k: &Key, bytes: &[u8]) {
    let file = dir.join(format!("{k}.json"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, bytes).unwrap();
    block_on(async {
        match store.get(k).await {
            Ok(found) => {
                // Only what the store would have written is read: a version of 1 to 2^63 - 1
                // and the value, as the file has them.
                let found = found.expect("the file is there");
                let parsed: Value = serde_json::from_slice(bytes).unwrap();
                assert!((1..=i64::MAX as u64).contains(&found.version));
                assert_eq!(parsed["version"], json!(found.version));
                assert_eq!(parsed["value"], found.value);
            }
            Err(err) => {
                assert_corrupt(&err, store.name(), k.as_str());
                assert!(err.to_string().contains(&format!("{k}.json")), "{err}");
            }
        }
        // A write that expects another version writes nothing, whatever the file holds.
        match store.compare_and_set(k, Some(0), &json!("new")).await {
            Ok(refused) => assert!(refused.is_err()),
            Err(err) => assert_corrupt(&err, store.name(), k.as_str()),
        }
        assert!(store.keys("").await.unwrap().contains(k));
    });
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    std::fs::remove_file(&file).unwrap();
}

/// Runs `test` on values of `strategy`, as many as `PROPTEST_CASES` says (proptest's
/// default config): for fuzz tests whose store is opened once, not once per case.
fn fuzz<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    // Proptest's default config (so `PROPTEST_CASES`), without a regressions file: this is
    // not a `proptest!` test, whose source file proptest would know.
    let config = proptest::test_runner::Config {
        failure_persistence: None,
        ..Default::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{failure}");
    }
}

#[test]
fn json_files_read_any_key_file_as_a_value_or_a_corrupt_error() {
    let dir = temp_dir("fuzz-json-file");
    let store = JsonFiles::open(dir.path()).unwrap();
    let saved = key("saved");
    block_on(store.put(&saved, &json!({ "kept": true }))).unwrap();
    fuzz(key_file(), |bytes| {
        check_key_file(&store, dir.path(), &key("agents/fuzzed"), &bytes);
        // The key saved before is untouched.
        let kept = block_on(store.get(&saved)).unwrap().unwrap();
        prop_assert_eq!((kept.value, kept.version), (json!({ "kept": true }), 1));
        Ok(())
    });
}

#[test]
fn nesting_past_serde_jsons_recursion_limit_is_corrupt_not_a_stack_overflow() {
    let dir = temp_dir("fuzz-json-deep");
    let store = JsonFiles::open(dir.path()).unwrap();
    let k = key("deep");
    for kind in 0..3 {
        let bytes = format!("{{\"version\":1,\"value\":{}}}", nested(1_000_000, kind));
        std::fs::write(dir.path().join("deep.json"), &bytes).unwrap();
        let err = block_on(store.get(&k)).unwrap_err();
        assert!(
            err.to_string().contains("recursion limit exceeded"),
            "{err}"
        );
        check_key_file(&store, dir.path(), &k, bytes.as_bytes());
    }
}

#[test]
fn a_value_at_the_largest_version_is_refused_a_write_not_wrapped() {
    let dir = temp_dir("fuzz-json-max");
    let store = JsonFiles::open(dir.path()).unwrap();
    let k = key("old");
    let max = i64::MAX as u64;
    let file = dir.path().join("old.json");
    std::fs::write(&file, format!("{{\"version\":{max},\"value\":1}}")).unwrap();
    assert_eq!(block_on(store.get(&k)).unwrap().unwrap().version, max);
    let err = block_on(store.put(&k, &json!(2))).unwrap_err();
    assert_corrupt(&err, store.name(), "old");
    assert!(
        err.to_string().contains("the largest a store keeps"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{{\"version\":{max},\"value\":1}}")
    );
}

// ---------------------------------------------------------------------------------------------
// SQLite rows written behind the store's back.

/// An SQLite value of any type.
fn sql_value() -> impl Strategy<Value = rusqlite::types::Value> {
    use rusqlite::types::Value as Sql;
    prop_oneof![
        // A version the store writes, or JSON text, for half of the cases.
        3 => (1i64..1000).prop_map(Sql::Integer),
        3 => json_value().prop_map(|v| Sql::Text(v.to_string())),
        1 => any::<i64>().prop_map(Sql::Integer),
        1 => prop_oneof![Just(i64::MAX), Just(0), Just(-1)].prop_map(Sql::Integer),
        1 => any::<f64>().prop_map(Sql::Real),
        1 => ".{0,16}".prop_map(Sql::Text),
        1 => prop::collection::vec(any::<u8>(), 0..16).prop_map(Sql::Blob),
    ]
}

/// A row's key: a valid key, or text the store would refuse, or bytes that are not UTF-8.
fn sql_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z]{1,8}(/[a-z]{1,8}){0,2}".prop_map(String::into_bytes),
        ".{1,12}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 1..12),
    ]
}

#[test]
fn sqlite_reads_any_row_as_a_value_or_a_corrupt_error() {
    let dir = temp_dir("fuzz-sqlite");
    let path = dir.path().join("state.db");
    let store = block_on(Sqlite::open(&path)).unwrap();
    block_on(store.put(&key("saved"), &json!([1, 2]))).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let name = store.name().to_owned();
    let rows = (sql_key(), sql_value(), sql_value());
    fuzz(rows, |(raw_key, version, value)| {
        prop_assume!(raw_key != b"saved");
        // Only this case's row beside the saved one, even after a failed case.
        raw.execute("DELETE FROM plan_state WHERE key != 'saved'", [])
            .unwrap();
        // The key as TEXT even where its bytes are not UTF-8, as another client may write it.
        let inserted = raw.execute(
            "INSERT INTO plan_state VALUES (CAST(?1 AS TEXT), ?2, ?3)",
            rusqlite::params![raw_key, version, value],
        );
        prop_assume!(inserted.is_ok());
        let row = || {
            raw.query_row(
                "SELECT version, value FROM plan_state WHERE CAST(key AS BLOB) = ?1",
                [&raw_key],
                |r| {
                    Ok((
                        r.get::<_, rusqlite::types::Value>(0)?,
                        r.get::<_, rusqlite::types::Value>(1)?,
                    ))
                },
            )
            .unwrap()
        };
        let before = row();
        let text = String::from_utf8_lossy(&raw_key).into_owned();
        let valid = std::str::from_utf8(&raw_key)
            .ok()
            .and_then(|t| Key::new(t).ok());
        block_on(async {
            // Listing: every key, or an error naming the row that holds no key. (Text that
            // sorts past every character, as bytes over 0xF4 do, is in no prefix's range.)
            match store.keys("").await {
                Ok(keys) => {
                    prop_assert_eq!(keys.iter().any(|k| k.as_str() == text), valid.is_some())
                }
                Err(err) => assert_corrupt(&err, &name, &text),
            }
            if let Some(k) = valid {
                match store.get(&k).await {
                    Ok(found) => {
                        let found = found.expect("the row is there");
                        prop_assert!((1..=i64::MAX as u64).contains(&found.version));
                    }
                    Err(err) => assert_corrupt(&err, &name, k.as_str()),
                }
                match store.compare_and_set(&k, Some(0), &json!("new")).await {
                    Ok(refused) => prop_assert!(refused.is_err()),
                    Err(err) => assert_corrupt(&err, &name, k.as_str()),
                }
                prop_assert_eq!(row(), before);
            }
            let saved = store.get(&key("saved")).await.unwrap().unwrap();
            prop_assert_eq!((saved.value, saved.version), (json!([1, 2]), 1));
            Ok(())
        })
    });
}

// ---------------------------------------------------------------------------------------------
// Durable run records and node outputs.

fn double(n: u32) -> u64 {
    u64::from(n) * 2
}
fn describe(n: u64) -> String {
    format!("got {n}")
}

/// A run record close to the journal's own: its fields of any value, its stage any.
fn run_record(plan: String) -> impl Strategy<Value = Value> {
    let stage = prop_oneof![
        3 => Just(json!({ "stage": "running" })),
        1 => json_value().prop_map(|result| json!({ "stage": "done", "result": result })),
        1 => ".{0,8}".prop_map(|result| json!({ "stage": "done", "result": result })),
        1 => (".{0,8}", json_value(), prop::option::of(".{0,8}")).prop_map(|(entry, question, refused)| {
            let question = json!({ "node": "ask", "entry": entry, "question": question, "refused": refused });
            json!({ "stage": "waiting", "question": question })
        }),
        1 => json_value().prop_map(|question| json!({ "stage": "waiting", "question": question })),
        1 => json_value().prop_map(|stage| json!({ "stage": stage })),
        1 => Just(json!({})),
    ];
    // Mostly this plan's records on this input, so that most reach their stage.
    let plan = prop_oneof![3 => Just(json!(plan)), 1 => json_value()];
    let input = prop_oneof![3 => Just(json!(3)), 1 => json_value()];
    (plan, input, stage, prop::bool::weighted(0.9)).prop_map(|(plan, input, stage, whole)| {
        let mut record = json!({ "plan": plan, "input": input });
        for (k, v) in stage.as_object().unwrap() {
            record[k] = v.clone();
        }
        if whole { record } else { json!([record]) }
    })
}

proptest! {
    #[test]
    fn a_durable_run_reads_any_record_and_journal_as_a_run_or_an_error_naming_it(
        (record, output) in {
            // The plan's fingerprint, as its own run records it, so that records may fit.
            let plan = plan! { #[durable] double >> describe };
            let runs = Runs::new(InMemory::new());
            block_on(runs.run(&plan, "probe", 3u32)).unwrap();
            let recorded = block_on(runs.store().get(&key("runs/probe/run"))).unwrap().unwrap();
            let fingerprint = recorded.value["plan"].as_str().unwrap().to_owned();
            (run_record(fingerprint), json_value())
        }
    ) {
        let plan = plan! { #[durable] double >> describe };
        let runs = Runs::new(InMemory::new());
        block_on(async {
            prop_assert_eq!(runs.run(&plan, "saved", 3u32).await.unwrap().done().unwrap(), "got 6");
            let store = runs.store();
            let record_key = key("runs/fuzzed/run");
            store.put(&record_key, &record).await.unwrap();
            // Every durable node's output, replaced by the fuzzed one.
            for node in store.keys("runs/saved/nodes/").await.unwrap() {
                let entry = &node.as_str()["runs/saved/nodes/".len()..];
                store.put(&key(&format!("runs/fuzzed/nodes/{entry}")), &output).await.unwrap();
            }
            match runs.run(&plan, "fuzzed", 3u32).await {
                Ok(outcome) => {
                    // Only a record of this plan on this input goes on; a finished or waiting
                    // one returns its result or question, any other runs the plan.
                    prop_assert_eq!(&record["input"], &json!(3));
                    match (outcome, record["stage"].as_str()) {
                        (RunStatus::Done(done), Some("done")) => {
                            prop_assert_eq!(json!(done), record["result"].clone())
                        }
                        (RunStatus::Done(done), _) => prop_assert!(done.starts_with("got "), "{}", done),
                        (RunStatus::Waiting(question), stage) => {
                            prop_assert_eq!(stage, Some("waiting"));
                            prop_assert_eq!(json!(question), record["question"].clone());
                        }
                    }
                }
                Err(err) => {
                    prop_assert!(err.to_string().contains("run `fuzzed`"), "{}", err);
                    if matches!(err, RunError::Json { .. } | RunError::PlanChanged { .. } | RunError::InputChanged { .. }) {
                        // Refused as it was read: nothing written over it.
                        let now = store.get(&record_key).await.unwrap().unwrap();
                        prop_assert_eq!((now.value, now.version), (record.clone(), 1));
                    }
                }
            }
            prop_assert_eq!(runs.run(&plan, "saved", 3u32).await.unwrap().done().unwrap(), "got 6");
            Ok(())
        })?;
    }
}

// ---------------------------------------------------------------------------------------------
// Persisted states: beliefs and episodes of any shape.

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Agent {
    beliefs: Beliefs,
    log: Episodes<String>,
}

fn belief() -> impl Strategy<Value = Value> {
    let odds = prop_oneof![
        12 => (-MAX_LOG_ODDS..=MAX_LOG_ODDS).prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => Just(json!(1e300)),
        1 => Just(json!(-1e300)),
        1 => json_value(),
    ];
    (odds.clone(), odds)
        .prop_map(|(log_odds, prior)| json!({ "log_odds": log_odds, "prior": prior }))
}

fn episodes() -> impl Strategy<Value = Value> {
    let cap = prop_oneof![0u64..10, any::<u64>()].prop_map(Value::from);
    (
        prop::collection::vec(".{0,4}", 0..8),
        prop_oneof![4 => cap, 1 => json_value()],
        any::<u64>(),
    )
        .prop_map(
            |(entries, cap, dropped)| json!({ "entries": entries, "cap": cap, "dropped": dropped }),
        )
}

proptest! {
    #[test]
    fn a_persisted_state_of_any_shape_loads_whole_or_is_an_error_naming_the_key(
        beliefs in prop::collection::btree_map("[a-z]{1,4}", belief(), 0..4),
        log in episodes(),
    ) {
        let agents: Persist<Agent, _> = Persist::new(InMemory::new());
        let k = key("agents/ada");
        block_on(async {
            agents.store().put(&k, &json!({ "beliefs": { "beliefs": beliefs }, "log": log })).await.unwrap();
            match agents.read(k.clone()).await {
                Ok(mut loaded) => {
                    // What loads keeps the types' promises: probabilities strictly between 0
                    // and 1, and they stay so through decay; a log within its cap.
                    for (_, belief) in loaded.state.beliefs.iter() {
                        prop_assert!(belief.log_odds.abs() <= MAX_LOG_ODDS && belief.prior.abs() <= MAX_LOG_ODDS);
                    }
                    loaded.state.beliefs.decay(std::time::Duration::from_secs(3600), std::time::Duration::from_secs(1));
                    for (p, _) in loaded.state.beliefs.clone().iter() {
                        let probability = loaded.state.beliefs.probability(p);
                        prop_assert!(probability > 0.0 && probability < 1.0, "{}", probability);
                    }
                    let log = &mut loaded.state.log;
                    prop_assert!(log.cap() >= 2 && log.len() <= log.cap());
                    log.push_or_compact("new".to_owned(), |old| old.concat());
                    prop_assert!(log.len() <= log.cap());
                    agents.write(&mut loaded).await.unwrap();
                }
                Err(PersistError::Shape { key: named, .. }) => prop_assert_eq!(named, k),
                Err(other) => prop_assert!(false, "{other:?}"),
            }
            Ok(())
        })?;
    }
}
