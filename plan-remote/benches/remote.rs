//! What a remote step costs, and how fast work moves on after a failure, on real
//! `nats-server`s this bench starts (one, then a 3-node cluster):
//!
//! 1. one remote step against a raw `async-nats` request/reply of the same bytes (a worker
//!    in this process; sequential calls);
//! 2. 1,000 remote steps that each sleep 10 ms, with 1, 2 and 4 workers serving one at a
//!    time (the floor is 10 s / workers);
//! 3. failover: from `kill -9` of a worker mid-step (the `worker` example, built in release
//!    by `bench/run`) to its step finishing on another; and from the loss of one node of a
//!    3-node cluster to the next step finishing.
//!
//! `cargo bench -p plan-remote --bench remote` prints one JSON object (for
//! `bench/report.py`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use plan_remote::nats::{Nats, NatsConfig, Worker};
use plan_remote::{Registry, Remote};
use plan_runtime::prelude::*;
use test_support::nats::{NatsCluster, NatsServer};

fn echo(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

async fn nap(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(10)).await;
    n
}

fn config(queue: &str) -> NatsConfig {
    NatsConfig {
        queue: queue.to_owned(),
        redeliver_after: Duration::from_secs(2),
        ..NatsConfig::default()
    }
}

async fn step_made<In, Out>(remote: &Remote, name: &str) -> plan_remote::RemoteStep<In, Out> {
    for _ in 0..200 {
        if let Ok(step) = remote.step::<In, Out>(name).await {
            return step;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no worker registered `{name}`");
}

/// Mean time of one call of a remote echo of 64 bytes, and of a raw request/reply.
async fn round_trip(url: &str) -> (f64, f64) {
    let nats = Nats::connect(url, config("echo")).await.unwrap();
    let worker = Worker::new(&nats, "w1", Registry::new().step("echo", plan! { echo }));
    tokio::spawn(worker.serve());
    let step = step_made::<Vec<u8>, Vec<u8>>(&Remote::new(nats), "echo").await;
    let plan = plan! { (step) };
    let payload = vec![7u8; 64];
    let calls = 500;
    for _ in 0..50 {
        plan.run(payload.clone()).await.unwrap();
    }
    let start = Instant::now();
    for _ in 0..calls {
        plan.run(payload.clone()).await.unwrap();
    }
    let remote = start.elapsed().as_secs_f64() / f64::from(calls);

    let client = async_nats::connect(url).await.unwrap();
    let mut requests = client.subscribe("bench.echo").await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                responder.publish(reply, request.payload).await.unwrap();
            }
        }
    });
    let bytes = Bytes::from(payload);
    for _ in 0..50 {
        client.request("bench.echo", bytes.clone()).await.unwrap();
    }
    let start = Instant::now();
    for _ in 0..calls {
        client.request("bench.echo", bytes.clone()).await.unwrap();
    }
    let raw = start.elapsed().as_secs_f64() / f64::from(calls);
    (remote, raw)
}

/// Wall time of 1,000 steps of 10 ms over `workers` workers, one step at a time each.
async fn fan_out(url: &str, workers: usize) -> f64 {
    let queue = format!("nap{workers}");
    let nats = Nats::connect(url, config(&queue)).await.unwrap();
    for w in 0..workers {
        let worker = Worker::new(
            &nats,
            &format!("w{w}"),
            Registry::new().step("nap", plan! { nap }),
        )
        .concurrency(1);
        tokio::spawn(worker.serve());
    }
    let step = step_made::<u32, u32>(&Remote::new(nats), "nap").await;
    let plan = plan! { each(all) { (step.clone()) } };
    let start = Instant::now();
    let out = plan.run((0..1000).collect::<Vec<u32>>()).await.unwrap();
    assert_eq!(out.len(), 1000);
    start.elapsed().as_secs_f64()
}

/// The `worker` example's binary, built in release by `bench/run`.
fn worker_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let release = exe.parent().and_then(|p| p.parent()).unwrap();
    let path = release.join("examples").join("worker");
    assert!(
        path.exists(),
        "{} is missing: `cargo build --release -p plan-remote --examples`",
        path.display()
    );
    path
}

fn spawn_worker(urls: &str, name: &str, item_ms: u64, replicas: usize) -> std::process::Child {
    Command::new(worker_binary())
        .args([
            "--nats",
            urls,
            "--name",
            name,
            "--item-ms",
            &item_ms.to_string(),
        ])
        .args(["--replicas", &replicas.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

type Lines = std::io::Lines<std::io::BufReader<std::process::ChildStdout>>;

/// `child`'s output, line by line.
fn lines(child: &mut std::process::Child) -> Lines {
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap()).lines()
}

/// Reads `lines` until one contains `text`.
fn wait_for(lines: &mut Lines, text: &str) {
    for line in lines.by_ref() {
        if line.unwrap().contains(text) {
            return;
        }
    }
    panic!("the worker ended before `{text}`");
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Item {
    n: u32,
    square: u64,
    worker: String,
}

/// From `kill -9` of the worker running a step to the step's result, from another.
async fn worker_failover(url: &str) -> f64 {
    let mut a = spawn_worker(url, "a", 60_000, 1);
    let mut output = lines(&mut a);
    wait_for(&mut output, "serving item");
    let nats = Nats::connect(url, config("items")).await.unwrap();
    let item = step_made::<u32, Item>(&Remote::new(nats), "item").await;
    let run = tokio::spawn(async move { plan! { (item) }.run(1).await });
    wait_for(&mut output, "took item 1");
    a.kill().unwrap();
    let killed = Instant::now();
    a.wait().unwrap();
    let mut b = spawn_worker(url, "b", 10, 1);
    let item = run.await.unwrap().unwrap();
    let took = killed.elapsed().as_secs_f64();
    assert_eq!(item.worker, "b");
    b.kill().unwrap();
    b.wait().unwrap();
    took
}

/// From the loss of one node of three to the next remote step finishing.
async fn node_failover() -> f64 {
    let mut nodes = NatsCluster::start(3);
    let urls = nodes.urls();
    let nats = Nats::connect(
        &urls,
        NatsConfig {
            replicas: 3,
            ..config("naps")
        },
    )
    .await
    .unwrap();
    let worker = Worker::new(&nats, "w", Registry::new().step("nap", plan! { nap }));
    tokio::spawn(worker.serve());
    let step = step_made::<u32, u32>(&Remote::new(nats), "nap").await;
    let plan = plan! { (step) };
    plan.run(0).await.unwrap();
    nodes.kill(0);
    let lost = Instant::now();
    plan.run(1).await.unwrap();
    lost.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let server = NatsServer::start();
    let url = server.url();
    let (remote, raw) = round_trip(&url).await;
    let mut fan = Vec::new();
    for workers in [1, 2, 4] {
        fan.push(
            serde_json::json!({ "workers": workers, "seconds": fan_out(&url, workers).await }),
        );
    }
    let worker = worker_failover(&url).await;
    let node = node_failover().await;
    println!(
        "{}",
        serde_json::json!({
            "round_trip": { "remote_s": remote, "raw_s": raw },
            "fan_out": fan,
            "worker_failover_s": worker,
            "node_failover_s": node,
        })
    );
}
