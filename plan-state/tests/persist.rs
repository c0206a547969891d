//! Loading an agent's state at the start of a plan and saving it at the end, as plan steps,
//! against the JSON files and SQLite stores: round trips, defaults, errors naming the key and
//! the store, compare-and-set saves, and sanitizers that run before anything is written.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{key, temp_dir};
use plan_runtime::prelude::*;
use plan_runtime::report::Outcome;
use plan_state::persist::{Persist, PersistError, Stored};
use plan_state::runs::Runs;
use plan_state::sanitize::{CapArrays, CapStrings, Redact};
use plan_state::store::{JsonFiles, Sqlite, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Agent {
    turns: u32,
    log: Vec<String>,
    api_key: Option<String>,
}

fn think(mut agent: Agent) -> Agent {
    agent.turns += 1;
    agent.log.push(format!("turn {}", agent.turns));
    agent
}

/// One turn of an agent, from its stored state to its stored state, on any store.
async fn turns_survive_runs<S: Store + 'static>(store: S) {
    let store = Arc::new(store);
    let agents: Persist<Agent, _> = Persist::new(Arc::clone(&store)).or_default();
    let turn = plan! {
        #![name = "turn"]
        (agents.load()) >> focus(Stored::state) { think } >> (agents.save())
    };
    let ada = key("agents/ada");
    for expected in 1..=3 {
        let saved = turn.run(ada.clone()).await.unwrap();
        assert_eq!(saved.state.turns, expected);
        assert_eq!(saved.version, Some(u64::from(expected)));
    }
    // What the store holds is the state, as JSON, at the version the last save gave.
    let stored = store.get(&ada).await.unwrap().unwrap();
    assert_eq!(stored.version, 3);
    assert_eq!(
        stored.value,
        json!({ "turns": 3, "log": ["turn 1", "turn 2", "turn 3"], "api_key": null })
    );
    // Another agent's state is its own.
    let bob = turn.run(key("agents/bob")).await.unwrap();
    assert_eq!((bob.state.turns, bob.version), (1, Some(1)));
}

#[tokio::test]
async fn a_turn_from_load_to_save_is_a_durable_run() {
    let store = Arc::new(Sqlite::open_in_memory().await.unwrap());
    let agents: Persist<Agent, _> = Persist::new(Arc::clone(&store)).or_default();
    let turn = plan! {
        (agents.load()) >> focus(Stored::state) { think } >> (agents.save())
    };
    // The run's input (a key) and output (a `Stored<Agent>`) are journaled with it.
    let runs = Runs::shared(Arc::clone(&store));
    let ada = key("agents/ada");
    let saved = runs.run(&turn, "turn-1", ada.clone()).await.unwrap();
    let saved = saved.done().unwrap();
    assert_eq!((saved.key.as_str(), saved.version), ("agents/ada", Some(1)));
    assert_eq!(saved.state.turns, 1);
    // Run again, the finished run gives its journaled result and saves nothing more.
    let again = runs.run(&turn, "turn-1", ada.clone()).await.unwrap();
    assert_eq!(again.done(), Some(saved));
    assert_eq!(store.get(&ada).await.unwrap().unwrap().version, 1);
    // A new run is a new turn.
    let next = runs.run(&turn, "turn-2", ada).await.unwrap();
    assert_eq!(next.done().unwrap().version, Some(2));
}

#[tokio::test]
async fn state_survives_runs_in_json_files() {
    let dir = temp_dir("persist-json");
    turns_survive_runs(JsonFiles::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn state_survives_runs_in_sqlite() {
    let dir = temp_dir("persist-sqlite");
    turns_survive_runs(Sqlite::open(dir.path().join("state.db")).await.unwrap()).await;
    turns_survive_runs(Sqlite::open_in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn the_steps_show_in_the_graph_and_the_report_under_their_names() {
    let agents: Persist<Agent, _> =
        Persist::new(Sqlite::open_in_memory().await.unwrap()).or_default();
    let turn = plan! {
        (agents.load()) >> focus(Stored::state) { think } >> #[name = "checkpoint"] (agents.save())
    };
    let names: Vec<&str> = turn.graph().nodes.iter().map(|n| n.name).collect();
    assert_eq!(
        names,
        ["plan", "(agents.load())", "focus", "think", "checkpoint"]
    );

    let (saved, report) = turn.run(key("agents/ada")).reported().await;
    assert_eq!(saved.unwrap().version, Some(1));
    for name in ["(agents.load())", "checkpoint"] {
        let node = report
            .find(name)
            .unwrap_or_else(|| panic!("{name} not in the report"));
        assert_eq!(node.outcome, Outcome::Ok, "{name}");
    }
}

#[tokio::test]
async fn a_missing_state_is_an_error_naming_the_key_and_the_store_unless_there_is_a_default() {
    let store = Arc::new(Sqlite::open_in_memory().await.unwrap());
    let strict: Persist<Agent, _> = Persist::new(Arc::clone(&store));
    let load = plan! { #[name = "load"] (strict.load()) };
    let err = load.run(key("agents/ada")).await.unwrap_err();
    assert_eq!(err.node().name, "load");
    match err.step_error::<PersistError>() {
        Some(PersistError::Missing { store, key }) => {
            assert_eq!(
                (store.as_str(), key.as_str()),
                ("sqlite in memory", "agents/ada")
            );
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("there is no state under `agents/ada` in sqlite in memory"),
        "{err}"
    );

    // With a default, a missing state starts from it — not yet stored (no version), and
    // nothing is written by loading.
    let started: Persist<Agent, _> = Persist::new(Arc::clone(&store)).or_else(|| Agent {
        turns: 100,
        ..Agent::default()
    });
    let fresh = plan! { (started.load_at(key("agents/ada"))) }
        .run(())
        .await
        .unwrap();
    assert_eq!((fresh.state.turns, fresh.version), (100, None));
    assert_eq!(store.get(&key("agents/ada")).await.unwrap(), None);
}

#[tokio::test]
async fn a_state_of_the_wrong_shape_is_an_error_naming_the_key_the_store_and_the_type() {
    let dir = temp_dir("persist-shape");
    let store = Arc::new(JsonFiles::open(dir.path()).unwrap());
    let k = key("agents/ada");
    store
        .put(&k, &json!({ "turns": "many", "log": [] }))
        .await
        .unwrap();
    let agents: Persist<Agent, _> = Persist::new(Arc::clone(&store)).or_default();
    let err = agents.read(k.clone()).await.unwrap_err();
    let PersistError::Shape { ty, .. } = &err else {
        panic!("expected Shape, got {err:?}");
    };
    assert!(ty.ends_with("Agent"), "{ty}");
    let message = err.to_string();
    let store_name = format!("json files at {}", dir.path().display());
    assert!(
        message.contains(&format!("the state under `agents/ada` in {store_name}")),
        "{message}"
    );
    assert!(
        message.contains("invalid type: string \"many\""),
        "{message}"
    );
    // A default is for a missing state, never for one that does not fit; nothing is changed.
    assert_eq!(store.get(&k).await.unwrap().unwrap().version, 1);
}

#[tokio::test]
async fn a_save_does_not_overwrite_a_state_saved_since_it_was_loaded() {
    let store = Arc::new(Sqlite::open_in_memory().await.unwrap());
    let agents: Persist<Agent, _> = Persist::new(Arc::clone(&store)).or_default();
    let k = key("agents/ada");
    // Two runs load the same state; the first to save wins.
    let mut first = agents.read(k.clone()).await.unwrap();
    let mut second = agents.read(k.clone()).await.unwrap();
    first.state = think(first.state);
    agents.write(&mut first).await.unwrap();
    assert_eq!(first.version, Some(1));
    second.state.turns = 99;
    let err = agents.write(&mut second).await.unwrap_err();
    match &err {
        PersistError::Conflict {
            store,
            key,
            loaded,
            found,
        } => {
            assert_eq!(
                (store.as_str(), key.as_str()),
                ("sqlite in memory", "agents/ada")
            );
            assert_eq!((*loaded, *found), (None, Some(1)));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "the state under `agents/ada` in sqlite in memory changed since it was loaded \
         (from no state, now version 1): not saved"
    );
    assert_eq!(
        second.version, None,
        "a refused save leaves the version as it was"
    );
    let kept = agents.read(k.clone()).await.unwrap();
    assert_eq!((kept.state.turns, kept.version), (1, Some(1)));

    // Saved again from a stale version: refused the same way.
    let mut stale = kept.clone();
    agents.write(&mut first).await.unwrap(); // version 2
    stale.state.turns = 50;
    let err = agents.write(&mut stale).await.unwrap_err();
    assert!(
        err.to_string().contains("(from version 1, now version 2)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_conflict_under_retry_loads_again_and_loses_no_turn() {
    let store = Arc::new(Sqlite::open_in_memory().await.unwrap());
    let agents: Persist<Agent, _> = Persist::new(Arc::clone(&store)).or_default();
    let turn = plan! {
        #[retry(8)] seq { (agents.load()) >> focus(Stored::state) { think } >> (agents.save()) }
    };
    let k = key("agents/ada");
    // Eight runs at once: every conflict of a run follows another run's save, so eight
    // attempts are enough for each.
    let runs: Vec<_> = (0..8).map(|_| turn.run(k.clone())).collect();
    for run in futures::future::join_all(runs).await {
        run.unwrap();
    }
    let done = agents.read(k).await.unwrap();
    assert_eq!((done.state.turns, done.version), (8, Some(8)));
    assert_eq!(done.state.log.len(), 8);
}

#[tokio::test]
async fn sanitizers_run_before_anything_is_written_and_leave_the_plans_state_alone() {
    let dir = temp_dir("persist-sanitize");
    let store = Arc::new(JsonFiles::open(dir.path()).unwrap());
    let agents: Persist<Agent, _> = Persist::new(Arc::clone(&store))
        .or_default()
        .sanitize(CapArrays::new(2))
        .sanitize(CapStrings::new(8))
        .sanitize(Redact::fields(["api_key"]).by_removing());
    fn use_key(mut agent: Agent) -> Agent {
        agent.api_key = Some("sk-very-secret".to_owned());
        agent
            .log
            .push("a reply far longer than eight characters".to_owned());
        agent
    }
    let turn = plan! {
        (agents.load()) >> focus(Stored::state) { think >> use_key } >> (agents.save())
    };
    let k = key("agents/ada");
    let held = turn.run(k.clone()).await.unwrap();
    assert_eq!(held.state.api_key.as_deref(), Some("sk-very-secret"));
    turn.run(k.clone()).await.unwrap();

    // The file on disk has neither the secret nor more than two log lines of eight chars.
    let file = std::fs::read_to_string(dir.path().join("agents/ada.json")).unwrap();
    assert!(!file.contains("sk-very-secret"), "{file}");
    let stored = store.get(&k).await.unwrap().unwrap().value;
    assert_eq!(
        stored,
        json!({ "turns": 2, "log": ["turn 2", "a reply … [32 more chars]"] })
    );
    // And it loads back: the removed key as `None`.
    let loaded = agents.read(k).await.unwrap();
    assert_eq!(loaded.state.api_key, None);
    assert_eq!(loaded.state.log, ["turn 2", "a reply … [32 more chars]"]);
}

#[tokio::test]
async fn a_state_that_is_not_json_is_refused_and_nothing_is_written() {
    let store = Arc::new(Sqlite::open_in_memory().await.unwrap());
    // JSON object keys are strings: a map keyed by tuples has no JSON form.
    let pairs: Persist<HashMap<(u8, u8), u8>, _> = Persist::new(Arc::clone(&store));
    let mut stored = Stored::new(key("pairs"), HashMap::from([((1, 2), 3)]));
    let err = pairs.write(&mut stored).await.unwrap_err();
    assert!(
        matches!(err, PersistError::Unserializable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the state for `pairs` in sqlite in memory cannot be written as JSON"),
        "{err}"
    );
    assert_eq!(store.get(&key("pairs")).await.unwrap(), None);
}
