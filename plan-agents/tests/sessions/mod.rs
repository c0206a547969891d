//! What the session tests share: a kind of agent that counts its tasks, and a probe that
//! watches them run. (Each test file uses part of it.)
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plan_agents::session::{AgentLimits, Agents, Kind, Sleep, Turn};
use plan_runtime::prelude::*;
use plan_state::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

/// An agent's state in these tests: how many tasks it finished.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Count {
    pub n: u32,
}

/// An attempt that started: agent, task name, attempt, and when, after the probe was made.
pub type Started = (String, String, u32, Duration);

/// What the tests watch: tasks running now and at most, and every attempt that started.
#[derive(Clone)]
pub struct Probe {
    pub running: Arc<AtomicUsize>,
    pub most: Arc<AtomicUsize>,
    started: Arc<Mutex<Vec<Started>>>,
    pub origin: Instant,
}

impl Probe {
    pub fn new() -> Self {
        Probe {
            running: Arc::default(),
            most: Arc::default(),
            started: Arc::default(),
            origin: Instant::now(),
        }
    }

    pub fn started(&self) -> Vec<Started> {
        self.started.lock().unwrap().clone()
    }

    /// `agent:task` of each attempt that started, in order.
    pub fn names(&self) -> Vec<String> {
        self.started()
            .into_iter()
            .map(|(agent, task, _, _)| format!("{agent}:{task}"))
            .collect()
    }
}

/// Decrements the running count however the task ends, cancelled included.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A task: `{"ms": N}` takes N ms; `"fail": true` fails; `"panic": true` panics;
/// `"keep": true` leaves the state alone; `"sleep_ms": N` puts the agent to sleep for N ms
/// after it.
pub async fn work(mut turn: Turn<Count>, probe: &Probe) -> Result<Turn<Count>, std::io::Error> {
    probe.started.lock().unwrap().push((
        turn.agent.clone(),
        turn.task.name.clone(),
        turn.task.attempt,
        probe.origin.elapsed(),
    ));
    let now = probe.running.fetch_add(1, Ordering::SeqCst) + 1;
    probe.most.fetch_max(now, Ordering::SeqCst);
    let _running = Running(probe.running.clone());
    let ms = turn.task.input["ms"].as_u64().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    if turn.task.input["panic"] == json!(true) {
        panic!("the model returned nonsense");
    }
    if turn.task.input["fail"] == json!(true) {
        return Err(std::io::Error::other(format!(
            "attempt {} failed",
            turn.task.attempt
        )));
    }
    if turn.task.input["keep"] != json!(true) {
        turn.state.n += 1;
    }
    turn.output = json!({ "n": turn.state.n, "attempt": turn.task.attempt });
    if let Some(ms) = turn.task.input["sleep_ms"].as_u64() {
        turn.sleep = Some(Sleep::for_(Duration::from_millis(ms)));
    }
    Ok(turn)
}

/// Agents of kind `worker` (the plan `work`) over `store`.
pub async fn start<S: Store + 'static>(
    store: Arc<S>,
    probe: &Probe,
    limits: AgentLimits,
) -> Agents<S> {
    Agents::builder(store)
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .limits(limits)
        .start()
        .await
        .unwrap()
}
