//! Workers and coordinators as real processes (the `worker` and `cluster` examples) on a
//! real `nats-server`, killed with SIGKILL mid-run: a worker mid-step, the coordinator
//! mid-run, and one node of a 3-node JetStream cluster.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plan_remote::Remote;
use plan_remote::nats::{Nats, NatsConfig};
use plan_runtime::prelude::*;
use serde::{Deserialize, Serialize};
use test_support::nats::{NatsCluster, NatsServer};
use test_support::processes::{example, kill_when, succeeded};
use test_support::temp_dir;

/// The `item` step's output as the workers send it: a type of this crate's own, with the
/// name and shape of theirs (signatures compare names without paths).
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    n: u32,
    square: u64,
    worker: String,
}

/// A child process whose output lines are collected as it prints them; killed on drop.
struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    fn start(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Process { child, lines }
    }

    /// Waits (up to 60 s) until it has printed a line containing `text`.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.lines.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(Instant::now() < deadline, "no `{text}` within 60 s");
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "it ended before `{text}`"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn worker(urls: &str, name: &str, effects: &Path, item_ms: u64, replicas: usize) -> Command {
    let mut command = Command::new(example("worker"));
    command.args([
        "--nats",
        urls,
        "--name",
        name,
        "--item-ms",
        &item_ms.to_string(),
    ]);
    command.arg("--effects").arg(effects);
    command.args(["--replicas", &replicas.to_string()]);
    command
}

fn cluster(urls: &str, id: &str, items: u32, replicas: usize) -> Command {
    let mut command = Command::new(example("cluster"));
    command.args([
        "--nats",
        urls,
        "--run-id",
        id,
        "--items",
        &items.to_string(),
    ]);
    command.args(["--replicas", &replicas.to_string()]);
    command
}

/// The effects file's lines, sorted.
fn effects(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The items the effects file names, sorted (with repeats, if any ran twice).
fn items(path: &Path) -> Vec<u32> {
    let mut items: Vec<u32> = effects(path)
        .iter()
        .map(|line| line.split(' ').next().unwrap().parse().unwrap())
        .collect();
    items.sort();
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_step_has_its_step_run_by_another() {
    let server = NatsServer::start();
    let dir = temp_dir("remote-worker");
    let file = dir.path().join("effects");
    let mut a = Process::start(worker(&server.url(), "a", &file, 10_000, 1));
    a.wait_for("serving item");
    let config = NatsConfig {
        queue: "items".to_owned(),
        ..NatsConfig::default()
    };
    let nats = Nats::connect(&server.url(), config).await.unwrap();
    let item = Remote::new(nats).step::<u32, Item>("item").await.unwrap();
    let run = tokio::spawn(async move { plan! { #[name = "item"] (item) }.run(7).await });
    a.wait_for("took item 7");
    let killed = Instant::now();
    drop(a); // SIGKILL, mid-step
    let _b = Process::start(worker(&server.url(), "b", &file, 100, 1));
    let item = run.await.unwrap().unwrap();
    let failover = killed.elapsed();
    assert_eq!((item.n, item.square, item.worker.as_str()), (7, 49, "b"));
    // `a` died before its effect; `b` made it once.
    assert_eq!(effects(&file), ["7 b"]);
    // The worker example's deadline is 2 s: no sooner than that, and not long after.
    assert!(failover >= Duration::from_secs(2), "{failover:?}");
    eprintln!("failover from a killed worker: {failover:?}");
}

#[test]
fn a_coordinator_killed_mid_run_is_continued_by_another_process() {
    let server = NatsServer::start();
    let dir = temp_dir("remote-coordinator");
    let file = dir.path().join("effects");
    let mut a = Process::start(worker(&server.url(), "a", &file, 200, 1));
    let mut b = Process::start(worker(&server.url(), "b", &file, 200, 1));
    a.wait_for("serving item");
    b.wait_for("serving item");
    let first = cluster(&server.url(), "run-1", 12, 1)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    kill_when(first, "four items done", || effects(&file).len() >= 4);
    let done_before = effects(&file).len();
    assert!(
        done_before < 12,
        "the run was killed mid-run: {done_before} items done"
    );

    let out = succeeded(
        cluster(&server.url(), "run-1", 12, 1)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Every item ran once: none that had finished (or was running) ran again.
    assert_eq!(items(&file), (1..=12).collect::<Vec<_>>());
    // The same result as a run in one process.
    let local = Command::new(example("cluster"))
        .args(["--run-id", "local", "--items", "12", "--local"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let local = succeeded(local);
    let result = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("result: "))
            .map(str::to_owned)
    };
    assert_eq!(result(&out), result(&local));
    assert!(result(&out).is_some(), "{out}");
    let by_worker = out.lines().find(|l| l.starts_with("by worker: ")).unwrap();
    assert!(
        by_worker.contains("a=") || by_worker.contains("b="),
        "{by_worker}"
    );
}

#[test]
fn a_nats_node_lost_mid_run_loses_nothing() {
    let mut nodes = NatsCluster::start(3);
    let urls = nodes.urls();
    let dir = temp_dir("remote-node");
    let file = dir.path().join("effects");
    let mut a = Process::start(worker(&urls, "a", &file, 200, 3));
    a.wait_for("serving item");
    let mut b = Process::start(worker(&urls, "b", &file, 200, 3));
    b.wait_for("serving item");
    let run = cluster(&urls, "run-node", 20, 3)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while effects(&file).len() < 5 {
        assert!(Instant::now() < deadline, "no five items within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let lost = Instant::now();
    nodes.kill(0);
    let out = succeeded(run);
    eprintln!(
        "the run went on and finished {:?} after a node was lost",
        lost.elapsed()
    );
    assert!(
        out.contains("result: 20 items, sum of squares 2870"),
        "{out}"
    );
    // At least once: an item whose worker's acknowledgement was lost with the node may
    // have run twice; none is missing.
    let mut seen = items(&file);
    seen.dedup();
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
}
