//! Chaos: the `chaos` example, run short, keeps its invariants with faults of every kind
//! really injected and retried; and the fault proxy gives the same faults for the same seed.

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use test_support::chaos::{Fault, FaultProxy, Faults};
use test_support::processes::{example, succeeded};

/// Six runs of each agent at a high fault rate, with small latency spikes and a 429 asking
/// for no wait (`Retry-After: 0`), so that it stays fast (about 3 s) on a loaded machine.
#[test]
fn a_short_chaos_run_keeps_its_invariants() {
    let child = Command::new(example("chaos"))
        .args(["--seed", "7", "--runs", "6", "--fault-rate", "0.5"])
        .args(["--spike-ms", "50", "--retry-after-s", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = succeeded(child);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"invariants: ok"), "{out}");
    let line = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in\n{out}"))
    };
    assert!(line("runs: ").starts_with("12 ("), "{out}");

    // Faults of every kind, as the servers counted them (model and sources together).
    let faults = line("faults: ");
    for fault in Fault::ALL {
        let injected: u64 = faults
            .split(&format!("{} ×", fault.name()))
            .skip(1)
            .map(|rest| {
                rest.split([',', ')'])
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert!(
            injected > 0,
            "no `{}` fault injected: {faults}",
            fault.name()
        );
    }
    let retries: u64 = line("retries: ").parse().unwrap();
    assert!(retries > 0, "{out}");

    // Every failed run names the node that failed.
    let failed: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains(": failed in "))
        .collect();
    for run in &failed {
        assert!(run.contains("` (step at "), "names no node: {run}");
    }
    let failures: usize = line("runs: 12 (")
        .split(" succeeded, ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" failed)"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(failed.len(), failures, "{out}");
}

/// What a client sees of one request through the proxy.
async fn outcome(client: &reqwest::Client, url: &str) -> &'static str {
    let Ok(answer) = client.get(url).send().await else {
        return "reset";
    };
    match answer.status().as_u16() {
        429 => {
            assert_eq!(answer.headers()["retry-after"], "0");
            return "429";
        }
        500 => return "500",
        200 => {}
        other => panic!("status {other}"),
    }
    match answer.bytes().await {
        Err(_) => "cut",
        Ok(body) if serde_json::from_slice::<serde_json::Value>(&body).is_err() => "malformed",
        Ok(_) => "answered",
    }
}

/// What a client sees of `requests` requests, one at a time, through a fresh proxy with
/// `faults`, and what the proxy counted.
async fn through_proxy(upstream: &str, faults: Faults, requests: usize) -> Vec<&'static str> {
    let proxy = FaultProxy::start(upstream, faults).await.unwrap();
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..requests {
        seen.push(outcome(&client, &format!("{}/note", proxy.url())).await);
    }
    assert_eq!(proxy.served().requests, requests as u64);
    seen
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let note = Router::new().route(
        "/note",
        get(|| async { axum::Json(serde_json::json!({ "note": "a durable run replays" })) }),
    );
    tokio::spawn(async move { axum::serve(listener, note).await });

    let faults = |seed| {
        Faults::new(seed)
            .spread(0.6)
            .spike(Duration::from_millis(1))
            .retry_after(Duration::ZERO)
    };
    let first = through_proxy(&upstream, faults(7), 60).await;
    let again = through_proxy(&upstream, faults(7), 60).await;
    assert_eq!(first, again);
    // What the client saw is the schedule's fault at each index (a slow answer is an answer).
    let scheduled: Vec<&str> = faults(7)
        .schedule()
        .take(60)
        .map(|fault| match fault {
            None | Some(Fault::Slow) => "answered",
            Some(fault) => fault.name(),
        })
        .collect();
    assert_eq!(first, scheduled);
    for fault in ["429", "500", "cut", "malformed", "reset", "answered"] {
        assert!(first.contains(&fault), "no {fault} in {first:?}");
    }
    let other_seed = through_proxy(&upstream, faults(8), 60).await;
    assert_ne!(first, other_seed);
}

/// A budget too small for a calm research run (it needs 11 requests): the run fails naming
/// the budget, and spends no more than it (the invariant the summary checks).
#[test]
fn a_budget_that_binds_is_not_exceeded() {
    let child = Command::new(example("chaos"))
        .args(["--seed", "7", "--runs", "1", "--fault-rate", "0"])
        .args(["--budget-requests", "8"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = succeeded(child);
    let research = out.lines().find(|l| l.starts_with("research 1: ")).unwrap();
    assert!(
        research.contains("failed") && research.contains("the run's budget of 8 requests is spent"),
        "{out}"
    );
    assert!(out.contains("\nteam 1: succeeded"), "{out}");
    assert!(out.ends_with("invariants: ok\n"), "{out}");
}

/// A deadline too short for a calm research run (its answer alone streams for about 350 ms):
/// the run is stopped there, within the grace the invariant allows, and its failure names
/// the step it cut off as well as the plan whose deadline passed.
#[test]
fn a_run_past_its_deadline_is_stopped_there() {
    let child = Command::new(example("chaos"))
        .args(["--seed", "7", "--runs", "1", "--fault-rate", "0"])
        .args(["--deadline-ms", "400"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = succeeded(child);
    let research = out.lines().find(|l| l.starts_with("research 1: ")).unwrap();
    assert!(research.contains("timed out after 400ms"), "{out}");
    assert!(
        research.contains(" at `") && research.contains("` (step at "),
        "{out}"
    );
    assert!(out.ends_with("invariants: ok\n"), "{out}");
}
