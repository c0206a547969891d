//! Durable runs, on tokio's paused clock: a run dropped mid-way (as a crash drops it) and run
//! again replays what was journaled and runs the rest; a finished run runs nothing; `each`
//! items and `loop` passes keep outputs of their own; `ask` pauses a run until it is resumed.
//!
//! The timed tests keep their runs in JSON files: the paused clock jumps ahead whenever the
//! runtime waits on something it cannot see, such as SQLite's own thread, but not while a
//! `spawn_blocking` task (a JSON file's write) runs, so their times are exact. The SQLite
//! journal is tested across real crashes (SIGKILL, in a child process) in `durable_processes.rs`.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use common::{TempDir, temp_dir};
use plan_runtime::prelude::*;
use plan_state::runs::{RunError, Runs};
use plan_state::store::{JsonFiles, Key, Sqlite, Store};
use plan_state::wait::ask;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::{Instant, sleep};

/// How many times each step started and finished, by name.
#[derive(Default)]
struct Tally {
    started: Mutex<HashMap<&'static str, u32>>,
    finished: Mutex<HashMap<&'static str, u32>>,
}

impl Tally {
    fn start(&self, step: &'static str) {
        *self.started.lock().unwrap().entry(step).or_default() += 1;
    }
    fn finish(&self, step: &'static str) {
        *self.finished.lock().unwrap().entry(step).or_default() += 1;
    }
    fn started(&self, step: &str) -> u32 {
        self.started.lock().unwrap().get(step).copied().unwrap_or(0)
    }
    fn finished(&self, step: &str) -> u32 {
        self.finished
            .lock()
            .unwrap()
            .get(step)
            .copied()
            .unwrap_or(0)
    }
}

/// A step that takes `ms` and appends its name.
async fn work(tally: &Tally, name: &'static str, ms: u64, mut trail: Vec<String>) -> Vec<String> {
    tally.start(name);
    sleep(Duration::from_millis(ms)).await;
    tally.finish(name);
    trail.push(name.to_owned());
    trail
}

async fn outline(trail: Vec<String>, tally: &Tally) -> Vec<String> {
    work(tally, "outline", 100, trail).await
}
async fn web(trail: Vec<String>, tally: &Tally) -> Vec<String> {
    work(tally, "web", 100, trail).await
}
async fn papers(trail: Vec<String>, tally: &Tally) -> Vec<String> {
    work(tally, "papers", 300, trail).await
}
async fn code(trail: Vec<String>, tally: &Tally) -> Vec<String> {
    work(tally, "code", 200, trail).await
}
async fn write((a, b, c): (Vec<String>, Vec<String>, Vec<String>), tally: &Tally) -> Vec<String> {
    let trail = [a, b, c].concat();
    work(tally, "write", 100, trail).await
}

async fn sqlite() -> Sqlite {
    Sqlite::open_in_memory().await.unwrap()
}

/// A JSON-files store in a fresh directory, removed with the `TempDir`.
fn files(name: &str) -> (TempDir, JsonFiles) {
    let dir = temp_dir(name);
    let store = JsonFiles::open(dir.path()).unwrap();
    (dir, store)
}

#[tokio::test(start_paused = true)]
async fn a_run_dropped_midway_replays_what_was_journaled_and_runs_the_rest() {
    let plan = plan! {
        #[durable] outline
            >> par { #[durable] web, #[durable] papers, #[durable] code }
            >> #[durable] write
    };
    let (_dir, store) = files("midway");
    let runs = Runs::new(store);
    let tally = Tally::default();
    let input = vec!["start".to_owned()];

    // The "crash": the run is dropped at 250 ms, when `outline` (100 ms) and `web` (100 ms
    // after it) have finished, and `papers` and `code` are running.
    let crashed = tokio::time::timeout(
        Duration::from_millis(250),
        runs.run(&plan, "r1", input.clone()).ctx(&tally),
    )
    .await;
    assert!(crashed.is_err(), "the run was cut off");
    assert_eq!((tally.finished("outline"), tally.finished("web")), (1, 1));
    assert_eq!((tally.started("papers"), tally.finished("papers")), (1, 0));
    assert_eq!((tally.started("code"), tally.finished("code")), (1, 0));

    let start = Instant::now();
    let outcome = runs
        .run(&plan, "r1", input.clone())
        .ctx(&tally)
        .await
        .unwrap();
    // `outline` and `web` were replayed; `papers` (300 ms) and `code` ran again, then `write`.
    assert_eq!(start.elapsed(), Duration::from_millis(400));
    assert_eq!((tally.started("outline"), tally.started("web")), (1, 1));
    assert_eq!((tally.started("papers"), tally.started("code")), (2, 2));
    assert_eq!(tally.started("write"), 1);

    // The same result as an uninterrupted run.
    let fresh = Tally::default();
    let uninterrupted = runs
        .run(&plan, "r2", input.clone())
        .ctx(&fresh)
        .await
        .unwrap();
    assert_eq!(outcome, uninterrupted);
    assert_eq!(
        outcome.done().unwrap(),
        [
            "start", "outline", "web", "start", "outline", "papers", "start", "outline", "code",
            "write"
        ]
    );

    // A finished run returns its result and runs nothing.
    let start = Instant::now();
    let again = runs.run(&plan, "r1", input).ctx(&tally).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(again, uninterrupted);
    assert_eq!(tally.started("write"), 1);
}

#[tokio::test(start_paused = true)]
async fn parallel_siblings_are_journaled_each_as_it_finishes() {
    let plan = plan! { par { #[durable] web, #[durable] papers, #[durable] code } >> write };
    let (_dir, store) = files("siblings");
    let store = std::sync::Arc::new(store);
    let runs = Runs::shared(store.clone());
    let tally = Tally::default();
    let run = runs.run(&plan, "siblings", vec![]).ctx(&tally);
    tokio::pin!(run);
    let journaled = || async { store.keys("runs/siblings/nodes/").await.unwrap().len() };
    let _ = tokio::time::timeout(Duration::from_millis(150), &mut run).await;
    assert_eq!(journaled().await, 1, "`web` at 100 ms");
    let _ = tokio::time::timeout(Duration::from_millis(100), &mut run).await;
    assert_eq!(journaled().await, 2, "`code` at 200 ms");
    run.await.unwrap();
    assert_eq!(journaled().await, 3, "`papers` at 300 ms");
}

/// `each` items finish in another order than they start, and a `loop` passes its node many
/// times: each item and pass keeps its own output.
#[tokio::test(start_paused = true)]
async fn each_item_and_loop_pass_has_its_own_entry() {
    async fn slow(n: u64, tally: &Tally) -> u64 {
        tally.start("slow");
        // Item 0 is the slowest: items finish in reverse order.
        sleep(Duration::from_millis(100 * (4 - n))).await;
        n * 10
    }
    async fn then(n: u64, tally: &Tally) -> u64 {
        tally.start("then");
        sleep(Duration::from_millis(10)).await;
        n + 1
    }
    async fn bump(n: u64, tally: &Tally) -> u64 {
        tally.start("bump");
        sleep(Duration::from_millis(10)).await;
        n * 2
    }
    let plan = plan! {
        each(all) { #[durable] slow >> #[durable] then }
            >> (|v: Vec<u64>| v.iter().sum::<u64>())
            >> loop(until = |n: &u64| *n > 1000, max = 10) { #[durable] bump }
    };
    let (_dir, store) = files("each");
    let runs = Runs::new(store);
    let tally = Tally::default();
    let items = vec![0, 1, 2, 3];
    let attempt = |cut_off: u64| {
        tokio::time::timeout(
            Duration::from_millis(cut_off),
            runs.run(&plan, "each", items.clone()).ctx(&tally),
        )
    };
    // Cut off after items 3 and 2 have run both steps (at 110 and 210 ms).
    assert!(attempt(250).await.is_err());
    assert_eq!((tally.started("slow"), tally.started("then")), (4, 2));
    // Items 0 and 1 run again and finish at 410 ms; the loop's passes start at 410, 420 and
    // 430 ms: two are journaled and the third is running at the cut-off.
    assert!(attempt(435).await.is_err());
    assert_eq!((tally.started("slow"), tally.started("then")), (6, 4));
    assert_eq!(tally.started("bump"), 3);
    let out = attempt(1_000).await.unwrap().unwrap();
    // 1 + 11 + 21 + 31 = 64, doubled until past 1000: 1024, in four passes, two of them
    // replayed (a replayed pass is its own pass's output, not the first's).
    assert_eq!(out.done().unwrap(), 1024);
    assert_eq!(tally.started("bump"), 3 + 2);
    assert_eq!((tally.started("slow"), tally.started("then")), (6, 4));
}

#[tokio::test(start_paused = true)]
async fn a_retried_node_is_journaled_once_its_retries_succeed() {
    static FAILS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(2);
    #[derive(Debug, thiserror::Error)]
    #[error("flaky")]
    struct Flaky;
    fn flaky(n: u32) -> Result<u32, Flaky> {
        use std::sync::atomic::Ordering;
        match FAILS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |f| f.checked_sub(1)) {
            Ok(_) => Err(Flaky),
            Err(_) => Ok(n + 1),
        }
    }
    let plan = plan! { #[durable] #[retry(3)] flaky };
    let runs = Runs::new(sqlite().await);
    assert_eq!(runs.run(&plan, "retry", 1).await.unwrap().done(), Some(2));
    let graph = plan.graph();
    let node = graph.nodes.iter().find(|n| n.name == "flaky").unwrap();
    assert!(node.durable && node.retry.is_some());
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Verdict {
    approved: bool,
    note: String,
}

async fn draft(topic: String, tally: &Tally) -> String {
    tally.start("draft");
    sleep(Duration::from_millis(100)).await;
    format!("a post about {topic}")
}

fn publish((draft, verdict): (String, Verdict)) -> String {
    if verdict.approved {
        format!("published {draft} ({})", verdict.note)
    } else {
        "shelved".to_owned()
    }
}

#[tokio::test(start_paused = true)]
async fn ask_pauses_the_run_until_it_is_resumed_with_an_answer() {
    let plan = plan! {
        let draft = #[durable] draft;
        let verdict = draft >> ask::<Verdict>();
        (draft, verdict) >> publish
    };
    let (_dir, store) = files("ask");
    let runs = Runs::new(store);
    let tally = Tally::default();
    let topic = "plans".to_owned();

    let waiting = runs
        .run(&plan, "post", topic.clone())
        .ctx(&tally)
        .await
        .unwrap();
    let question = waiting.waiting().expect("the run waits");
    assert_eq!(question.question, json!("a post about plans"));
    assert_eq!(question.refused, None);
    // Running it again asks again, and runs nothing.
    let again = runs
        .run(&plan, "post", topic.clone())
        .ctx(&tally)
        .await
        .unwrap();
    assert_eq!(again.waiting(), Some(question));

    // An answer of the wrong shape is refused, and the run still waits.
    let refused = runs
        .resume(&plan, "post", json!({ "approved": "yes" }))
        .ctx(&tally)
        .await
        .unwrap()
        .waiting()
        .expect("still waiting");
    assert!(refused.refused.unwrap().contains("Verdict"));

    let answer = Verdict {
        approved: true,
        note: "lgtm".to_owned(),
    };
    let done = runs
        .resume(&plan, "post", answer)
        .ctx(&tally)
        .await
        .unwrap();
    assert_eq!(done.done().unwrap(), "published a post about plans (lgtm)");
    assert_eq!(
        tally.started("draft"),
        1,
        "the journaled draft was not written again"
    );

    let err = runs
        .resume(&plan, "post", json!(null))
        .ctx(&tally)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunError::NotWaiting { stage: "done", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn ask_outside_a_durable_run_says_it_needs_one() {
    let plan = plan! { ask::<String>() };
    let err = plan.run(1).await.unwrap_err();
    assert!(err.to_string().contains("needs a durable run"), "{err}");
}

#[tokio::test]
async fn a_run_continues_only_under_its_plan_and_input() {
    fn one(n: u32) -> u32 {
        n + 1
    }
    fn two(n: u32) -> u32 {
        n + 2
    }
    let store = std::sync::Arc::new(sqlite().await);
    let runs = Runs::shared(store.clone());
    let first = plan! { #[durable] one };
    runs.run(&first, "r", 1).await.unwrap();

    let err = runs.run(&first, "r", 2).await.unwrap_err();
    assert!(matches!(err, RunError::InputChanged { .. }), "{err}");
    assert!(err.to_string().contains("another input: 1"), "{err}");

    let other = plan! { #[durable] two };
    let err = runs.run(&other, "r", 1).await.unwrap_err();
    assert!(matches!(err, RunError::PlanChanged { .. }), "{err}");

    for bad in ["a/b", "", "../x", "ünï"] {
        let err = runs.run(&first, bad, 1).await.unwrap_err();
        assert!(matches!(err, RunError::BadRunId { .. }), "{bad}: {err}");
    }

    // A record edited by hand is a clear error naming the run, and is left as it is.
    let key = Key::new("runs/r/run").unwrap();
    store
        .put(&key, &json!({ "stage": "sideways" }))
        .await
        .unwrap();
    let err = runs.run(&first, "r", 1).await.unwrap_err();
    assert!(err.to_string().starts_with("run `r`: the record"), "{err}");
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().value,
        json!({ "stage": "sideways" })
    );

    // So is a journaled output that is not the node's output type.
    let node = store.keys("runs/s/").await.unwrap();
    assert!(node.is_empty());
    runs.run(&first, "s", 1).await.unwrap();
    let entries = store.keys("runs/s/nodes/").await.unwrap();
    assert_eq!(entries.len(), 1);
    store.put(&entries[0], &json!("two")).await.unwrap();
    let record = Key::new("runs/s/run").unwrap();
    let mut running = store.get(&record).await.unwrap().unwrap().value;
    running["stage"] = json!("running");
    store.put(&record, &running).await.unwrap();
    let err = runs.run(&first, "s", 1).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`one`") && text.contains("is not a `u32`"),
        "{text}"
    );
}

#[tokio::test]
async fn a_durable_node_outside_a_durable_run_is_a_plain_node() {
    fn one(n: u32) -> u32 {
        n + 1
    }
    let plan = plan! { #![durable] one >> one };
    assert_eq!(plan.run(1).await.unwrap(), 3);
    assert!(plan.graph().to_mermaid().contains("durable"));
}

#[tokio::test(start_paused = true)]
async fn a_question_the_plan_did_without_does_not_hold_it_up() {
    async fn quick(n: u32) -> u32 {
        sleep(Duration::from_millis(10)).await;
        n + 1
    }
    // `par(first)`: the asking branch fails at once, waiting; the other succeeds.
    let plan = plan! { par(first) { (ask::<u32>()), quick } };
    let (_dir, store) = files("did-without");
    let runs = Runs::new(store);
    assert_eq!(runs.run(&plan, "r", 1).await.unwrap().done(), Some(2));
}

/// The branches of a durable `each(all)` journal their outputs at once, and the SQLite store
/// commits them in groups (its unit tests prove the grouping and a failed group): when the run
/// returns, every output is committed, as another connection to the file reads it.
#[tokio::test]
async fn every_branch_of_a_durable_fan_out_is_committed_when_the_run_returns() {
    fn square(n: u64) -> u64 {
        n * n
    }
    let plan = plan! { each(all) { #[durable] square } };
    let dir = temp_dir("fan-out-sqlite");
    let path = dir.path().join("runs.db");
    let items: Vec<u64> = (0..500).collect();
    let squares: Vec<u64> = items.iter().map(|n| n * n).collect();
    let runs = Runs::new(Sqlite::open(&path).await.unwrap());
    let out = runs.run(&plan, "fan", items).await.unwrap();
    assert_eq!(out.done().unwrap(), squares);

    let other = Sqlite::open(&path).await.unwrap();
    let keys = other.keys("runs/fan/nodes/").await.unwrap();
    assert_eq!(keys.len(), 500, "one output per branch");
    let mut journaled = Vec::new();
    for key in &keys {
        let value = other.get(key).await.unwrap().unwrap().value;
        journaled.push(value.as_u64().unwrap());
    }
    journaled.sort_unstable();
    assert_eq!(journaled, squares);
}
