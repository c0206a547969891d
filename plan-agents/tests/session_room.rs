//! Agents that sleep until the system has room (`Sleep::until_room`), on tokio's paused
//! clock: they wake in the order they fell asleep, one per task's worth of room, and never
//! while too many tasks run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use plan_agents::session::{AgentEvent, Agents, Kind, Sleep, State, TaskSpec, Turn, Wake};
use plan_runtime::{Cx, Describe, Plan, PlanError};
use plan_state::store::InMemory;
use tokio::time::Instant;

/// Runs each task for as many seconds as its input says, noting which agent started when.
#[derive(Clone)]
struct Work {
    started: Arc<Mutex<Vec<(String, Duration)>>>,
    t0: Instant,
}

impl Describe for Work {}
impl Plan<Turn<()>> for Work {
    type Out = Turn<()>;
    async fn call(&self, turn: Turn<()>, _: Cx<'_, ()>) -> Result<Turn<()>, PlanError> {
        self.started
            .lock()
            .unwrap()
            .push((turn.agent.clone(), self.t0.elapsed()));
        let secs = turn.task.input.as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(secs)).await;
        Ok(turn)
    }
}

#[tokio::test(start_paused = true)]
async fn agents_waiting_for_room_wake_in_order_and_no_earlier() {
    let work = Work {
        started: Arc::default(),
        t0: Instant::now(),
    };
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("worker", Kind::new(work.clone()))
        .start()
        .await
        .unwrap();
    let mut events = agents.events();
    for name in ["busy1", "busy2", "p1", "p2"] {
        agents.create(name, "worker", None).await.unwrap();
    }
    // Two tasks run, of 10 s and 20 s.
    let task = |secs: u64| TaskSpec::new("work").input(serde_json::json!(secs));
    agents.schedule("busy1", task(10)).await.unwrap();
    agents.schedule("busy2", task(20)).await.unwrap();
    // `p1`, then `p2`, sleep until fewer than 2 tasks run, each with a task of 5 s.
    for name in ["p1", "p2"] {
        agents.sleep(name, Sleep::until_room(2)).await.unwrap();
        agents.schedule(name, task(5)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(30)).await;

    let started = work.started.lock().unwrap().clone();
    let at = |agent: &str| {
        started
            .iter()
            .find(|(a, _)| a == agent)
            .map(|(_, t)| t.as_secs())
    };
    // `busy1` ends at 10 s: room for one, `p1` (asleep first); `p1` ends at 15 s: `p2`.
    assert_eq!((at("busy1"), at("busy2")), (Some(0), Some(0)));
    assert_eq!(at("p1"), Some(10));
    assert_eq!(at("p2"), Some(15));

    let mut woken = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let AgentEvent::State {
            agent,
            from: State::Sleeping,
            woken_by: Some(Wake::Room { running }),
            ..
        } = event
        {
            woken.push((agent, running));
        }
    }
    assert_eq!(woken, [("p1".to_owned(), 1), ("p2".to_owned(), 1)]);
    agents.shutdown().await;
}
