//! Remote steps on NATS JetStream, against a real `nats-server` each test starts on a free
//! port, with workers in this process: a round trip, a duplicate delivery kept once,
//! heartbeats that keep a long step from being redelivered, and cancellation that crosses
//! the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use plan_remote::nats::{Nats, NatsConfig, Worker};
use plan_remote::{Engine, Job, Outcome, Registry, Remote, RemoteError, Signature};
use plan_runtime::prelude::*;
use plan_runtime::{Cx, Describe, Plan, PlanError};
use test_support::nats::NatsServer;

fn square(n: u32) -> u64 {
    u64::from(n) * u64::from(n)
}

fn total(squares: Vec<u64>) -> u64 {
    squares.iter().sum()
}

/// Counts its runs and the runs dropped before they finished; each takes `pause`.
#[derive(Clone, Default)]
struct Slow {
    pause: Duration,
    runs: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

struct CountDrop(Arc<AtomicUsize>, bool);
impl Drop for CountDrop {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, SeqCst);
        }
    }
}

impl Describe for Slow {}
impl Plan<u32> for Slow {
    type Out = u32;
    async fn call(&self, n: u32, _: Cx<'_, ()>) -> Result<u32, PlanError> {
        self.runs.fetch_add(1, SeqCst);
        let mut guard = CountDrop(Arc::clone(&self.dropped), false);
        tokio::time::sleep(self.pause).await;
        guard.1 = true;
        Ok(n + 1)
    }
}

fn config(queue: &str) -> NatsConfig {
    NatsConfig {
        queue: queue.to_owned(),
        redeliver_after: Duration::from_secs(1),
        ..NatsConfig::default()
    }
}

/// Polls `ready` every 20 ms for up to 20 s.
async fn eventually(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..1000 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 20 s");
}

/// Serves `registry` as worker `name` on `nats` until the test ends.
fn serve(nats: &Nats, name: &str, registry: Registry) {
    let worker = Worker::new(nats, name, registry);
    tokio::spawn(async move { worker.serve().await.unwrap() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_fans_out_over_workers_and_says_which_ran_each_item() {
    let server = NatsServer::start();
    let nats = Nats::connect(&server.url(), config("squares"))
        .await
        .unwrap();
    serve(
        &nats,
        "w1",
        Registry::new().step("square", plan! { square }),
    );
    serve(
        &nats,
        "w2",
        Registry::new().step("square", plan! { square }),
    );
    // Made once the workers have registered the step.
    let remote = Remote::new(nats.clone());
    let mut square = remote.step::<u32, u64>("square").await;
    for _ in 0..100 {
        if square.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        square = remote.step::<u32, u64>("square").await;
    }
    let square = square.unwrap();
    let sum = plan! { each(all) { #[name = "square"] (square.clone()) } >> total };
    let (out, report) = sum.run((1..=20).collect::<Vec<u32>>()).reported().await;
    assert_eq!(out.unwrap(), (1..=20u64).map(|n| n * n).sum::<u64>());
    let workers: Vec<&str> = report
        .nodes
        .iter()
        .filter(|n| n.name == "square")
        .map(|n| n.notes[0].1.as_str())
        .collect();
    assert_eq!(workers.len(), 20);
    assert!(
        workers.iter().all(|w| ["w1", "w2"].contains(w)),
        "{workers:?}"
    );

    // The signature the workers registered is checked.
    let err = remote.step::<u64, u64>("square").await.unwrap_err();
    assert!(matches!(err, RemoteError::Mismatch { .. }), "{err}");
}

fn job(key: &str, n: u32) -> Job {
    Job {
        step: "slow".to_owned(),
        key: key.to_owned(),
        signature: Signature::of::<u32, u32>(),
        input: serde_json::json!(n),
        budget: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_sent_twice_has_one_result() {
    let server = NatsServer::start();
    let nats = Nats::connect(&server.url(), config("twice")).await.unwrap();
    let slow = Slow {
        pause: Duration::from_millis(300),
        ..Slow::default()
    };
    serve(&nats, "w1", Registry::new().step("slow", slow.clone()));
    serve(&nats, "w2", Registry::new().step("slow", slow.clone()));
    // One key dispatched twice at once (a coordinator and its restarted self), then again
    // once done: one result, the same for all three.
    let (a, b) = tokio::join!(
        nats.dispatch(job("run.0.1", 1)),
        nats.dispatch(job("run.0.1", 1))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_eq!(a.outcome, Outcome::Output(serde_json::json!(2)));
    let c = nats.dispatch(job("run.0.1", 1)).await.unwrap();
    assert_eq!(c, a);
    // Sent with one key inside the duplicate window, the job was queued once and ran once.
    assert_eq!(slow.runs.load(SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_longer_than_the_redelivery_deadline_is_not_redelivered() {
    let server = NatsServer::start();
    let nats = Nats::connect(&server.url(), config("long")).await.unwrap();
    // Three deadlines long: only the worker's progress acknowledgements keep it its own.
    let slow = Slow {
        pause: Duration::from_secs(3),
        ..Slow::default()
    };
    serve(&nats, "w1", Registry::new().step("slow", slow.clone()));
    serve(&nats, "w2", Registry::new().step("slow", slow.clone()));
    let done = nats.dispatch(job("long.0.1", 5)).await.unwrap();
    assert_eq!(done.outcome, Outcome::Output(serde_json::json!(6)));
    assert_eq!(slow.runs.load(SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loser_or_a_timed_out_step_is_stopped_on_its_worker() {
    let server = NatsServer::start();
    let nats = Nats::connect(&server.url(), config("cancel"))
        .await
        .unwrap();
    let slow = Slow {
        pause: Duration::from_secs(30),
        ..Slow::default()
    };
    serve(&nats, "w1", Registry::new().step("slow", slow.clone()));
    let remote = Remote::new(nats.clone());
    let mut step = remote.step::<u32, u32>("slow").await;
    while step.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        step = remote.step::<u32, u32>("slow").await;
    }
    let slow_step = step.unwrap();

    // `par(first)`: the local branch wins once the remote one has started on its worker.
    let runs = Arc::clone(&slow.runs);
    let started = move |n: u32| {
        let runs = Arc::clone(&runs);
        async move {
            while runs.load(SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            n
        }
    };
    let race = plan! { par(first) { #[name = "remote"] (slow_step.clone()), started } };
    assert_eq!(race.run(1).await.unwrap(), 1);
    eventually("the loser's drop on its worker", || {
        slow.dropped.load(SeqCst) == 1
    })
    .await;

    // `#[timeout]` around the remote step: the worker stops it too.
    let timed = plan! { #[timeout(500ms)] #[name = "remote"] (slow_step.clone()) };
    assert!(timed.run(2).await.unwrap_err().is_timeout());
    eventually("the timed-out step's drop on its worker", || {
        slow.dropped.load(SeqCst) == 2
    })
    .await;
    assert_eq!(slow.runs.load(SeqCst), 2);
}
