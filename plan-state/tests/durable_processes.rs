//! Durable runs across processes, with the examples `cargo test` builds next to this test:
//!
//! * `durable` killed with SIGKILL at several points and run again with the same arguments:
//!   it finishes with the result of an uninterrupted run, and a step runs again only if it had
//!   not been journaled when the process died (the effects file counts every run of every
//!   step);
//! * `approval` waits for an answer and exits; a second process resumes it with the answer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use plan_state::store::{JsonFiles, Sqlite, Store};
use test_support::processes::{example, kill_when, succeeded};
use test_support::{TempDir, temp_dir};

const STEPS: [&str; 10] = [
    "brief",
    "outline",
    "search_web",
    "search_papers",
    "search_code",
    "merge",
    "draft",
    "review",
    "polish",
    "publish",
];

/// One scenario's files: a store, an effects file.
struct Scenario {
    dir: TempDir,
    store: String,
}

impl Scenario {
    fn new(name: &str, store: &str) -> Self {
        let dir = temp_dir(&format!("durable-{name}"));
        let store = match store {
            "sqlite" => format!("sqlite:{}", dir.path().join("runs.db").display()),
            _ => format!("json:{}", dir.path().join("runs").display()),
        };
        Scenario { dir, store }
    }

    fn effects(&self) -> PathBuf {
        self.dir.path().join("effects")
    }

    fn spawn(&self) -> Child {
        Command::new(example("durable"))
            .args(["--store", &self.store, "--run-id", "crash", "--effects"])
            .arg(self.effects())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts")
    }

    /// Runs the example to the end; its `result: ...` line.
    fn finish(&self) -> String {
        let stdout = succeeded(self.spawn());
        let last = stdout.lines().last().expect("a last line").to_owned();
        assert!(last.starts_with("result: "), "{last}");
        last
    }

    /// Runs the example until the effects file has `lines` lines, then kills it with SIGKILL.
    fn kill_after(&self, lines: usize) {
        let what = format!("progress to {lines} lines");
        kill_when(self.spawn(), &what, || self.lines().len() >= lines);
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.effects())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// How many node outputs the run's journal holds.
    async fn journaled(&self) -> usize {
        let prefix = "runs/crash/nodes/";
        match self.store.split_once(':').unwrap() {
            ("sqlite", path) => Sqlite::open(path)
                .await
                .unwrap()
                .keys(prefix)
                .await
                .unwrap()
                .len(),
            (_, dir) => JsonFiles::open(dir)
                .unwrap()
                .keys(prefix)
                .await
                .unwrap()
                .len(),
        }
    }
}

fn counts(lines: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        *counts.entry(line.clone()).or_default() += 1;
    }
    counts
}

/// Kills the run after each of `kills` effect lines in turn, runs it to the end, and checks
/// the result and the effects.
async fn crash_and_rerun(name: &str, store: &str, kills: &[usize], expected: &str) {
    let scenario = Scenario::new(name, store);
    // Every line an attempt appended comes before its step's journal entry, and a step
    // appends once per run; so the steps that must run again are the lines written by the
    // killed attempts minus the outputs they journaled: `lines - journaled` at the last kill.
    let mut reruns_expected = 0;
    for &lines in kills {
        scenario.kill_after(lines);
        let written = scenario.lines().len();
        let journaled = scenario.journaled().await;
        assert!(
            journaled <= written,
            "{journaled} journaled, {written} lines"
        );
        reruns_expected = written - journaled;
    }
    let result = scenario.finish();
    assert_eq!(
        result, expected,
        "{name}: the same result as an uninterrupted run"
    );
    let counts = counts(&scenario.lines());
    for step in STEPS {
        let n = counts.get(step).copied().unwrap_or(0);
        assert!(n >= 1, "{name}: `{step}` never ran: {counts:?}");
    }
    assert_eq!(counts.len(), STEPS.len(), "{counts:?}");
    let reruns: usize = counts.values().map(|n| n - 1).sum();
    assert_eq!(
        reruns, reruns_expected,
        "{name}: only steps not yet journaled at a kill ran again: {counts:?}"
    );
    // And running the finished run again runs nothing.
    assert_eq!(scenario.finish(), expected);
    assert_eq!(self::counts(&scenario.lines()), counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_durable_example_survives_sigkill_at_any_point() {
    let reference = Scenario::new("reference", "sqlite");
    let expected = reference.finish();
    assert_eq!(
        counts(&reference.lines()).values().sum::<usize>(),
        STEPS.len()
    );
    drop(reference);

    // Before the first step ends; after one; in the middle of the `par`; near the end; and
    // twice in one run.
    crash_and_rerun("start", "sqlite", &[0], &expected).await;
    crash_and_rerun("first", "sqlite", &[1], &expected).await;
    crash_and_rerun("par", "json", &[3], &expected).await;
    crash_and_rerun("late", "sqlite", &[8], &expected).await;
    crash_and_rerun("twice", "json", &[2, 7], &expected).await;
}

/// Runs the `approval` example with `args`; its stdout.
fn approval(args: &[&str]) -> String {
    let out = Command::new(example("approval"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_waiting_run_is_resumed_by_another_process() {
    let scenario = Scenario::new("approval", "sqlite");
    let db = scenario.dir.path().join("approval.db");
    let base = ["--store", db.to_str().unwrap(), "--run-id", "post"];

    let first = approval(&base);
    assert!(first.contains("writing the draft"), "{first}");
    let waiting = first.lines().last().unwrap();
    assert!(
        waiting
            .starts_with("waiting: `approve` asks to approve \"Ten things about durable plans\""),
        "{waiting}"
    );
    // The process has exited; a new one answers.
    let second = approval(&[&base[..], &["--answer", "yes"]].concat());
    assert_eq!(
        second, "result: published \"Ten things about durable plans\"\n",
        "continued from the question, without writing the draft again"
    );
}
