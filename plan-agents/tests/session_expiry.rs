//! Tasks with a time to live, on tokio's paused clock: one not started in time — behind a
//! long task, or restored after a restart — is dead-lettered as expired, with an event, and
//! never run; one started in time runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, SystemTime};

use plan_agents::session::{AgentEvent, Agents, Kind, Sleep, TaskSpec, Turn};
use plan_runtime::{Cx, Describe, Plan, PlanError};
use plan_state::store::InMemory;

/// Runs `long` tasks for 10 s; counts the runs of every other task.
#[derive(Clone, Default)]
struct Work {
    quick: Arc<AtomicUsize>,
}

impl Describe for Work {}
impl Plan<Turn<()>> for Work {
    type Out = Turn<()>;
    async fn call(&self, turn: Turn<()>, _: Cx<'_, ()>) -> Result<Turn<()>, PlanError> {
        if turn.task.name == "long" {
            tokio::time::sleep(Duration::from_secs(10)).await;
        } else {
            self.quick.fetch_add(1, SeqCst);
        }
        Ok(turn)
    }
}

async fn start(store: &Arc<InMemory>, work: &Work, now: SystemTime) -> Agents<InMemory> {
    Agents::builder(Arc::clone(store))
        .kind("worker", Kind::new(work.clone()))
        .now(now)
        .start()
        .await
        .unwrap()
}

/// Polls until `agent` has `dead` dead tasks.
async fn dead_tasks(agents: &Agents<InMemory>, agent: &str, dead: usize) -> Vec<String> {
    for _ in 0..600 {
        let tasks = agents.dead_tasks(agent).await.unwrap();
        if tasks.len() >= dead {
            return tasks
                .into_iter()
                .map(|t| format!("{} {}", t.task.name, t.error))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{agent} has no {dead} dead tasks");
}

#[tokio::test(start_paused = true)]
async fn a_task_not_started_within_its_time_to_live_is_dead_lettered_never_run() {
    let store = Arc::new(InMemory::new());
    let work = Work::default();
    let agents = start(&store, &work, SystemTime::now()).await;
    let mut events = agents.events();
    agents.create("w", "worker", None).await.unwrap();
    // One task at a time: `late` waits 10 s behind `long`, beyond its 5 s; `soon` has 20 s.
    agents.schedule("w", TaskSpec::new("long")).await.unwrap();
    let late = agents
        .schedule("w", TaskSpec::new("late").ttl(Duration::from_secs(5)))
        .await
        .unwrap();
    agents
        .schedule("w", TaskSpec::new("soon").ttl(Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(
        dead_tasks(&agents, "w", 1).await,
        ["late expired: not started within its time to live"]
    );
    // `soon` ran; `late` never did.
    for _ in 0..100 {
        if work.quick.load(SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(work.quick.load(SeqCst), 1);
    let mut expired = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let AgentEvent::TaskExpired { task, name, .. } = event {
            expired.push((task, name));
        }
    }
    assert_eq!(expired, [(late, "late".to_owned())]);
    agents.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_task_restored_after_its_time_to_live_is_dead_lettered_never_run() {
    let store = Arc::new(InMemory::new());
    let work = Work::default();
    let t0 = SystemTime::now();
    let agents = start(&store, &work, t0).await;
    agents.create("w", "worker", None).await.unwrap();
    // Asleep for an hour: its task waits, with 60 s to live.
    agents
        .sleep("w", Sleep::for_(Duration::from_secs(3600)))
        .await
        .unwrap();
    agents
        .schedule("w", TaskSpec::new("report").ttl(Duration::from_secs(60)))
        .await
        .unwrap();
    agents.shutdown().await;

    // Restarted two minutes later, and woken: the task is out of time.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let agents = start(&store, &work, t0 + Duration::from_secs(120)).await;
    agents.wake("w").await.unwrap();
    assert_eq!(
        dead_tasks(&agents, "w", 1).await,
        ["report expired: not started within its time to live"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(work.quick.load(SeqCst), 0);
    agents.shutdown().await;
}
