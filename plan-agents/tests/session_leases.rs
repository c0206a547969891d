//! Agents shared by processes through leases, on tokio's paused clock: two `Agents` over one
//! in-memory store stand for two processes. An owner that dies, is cut off from the store or
//! shuts down has its agents taken over, each where it was (a sleeper wakes at its time,
//! queued tasks run once, a schedule keeps its times); an owner that lost an agent runs
//! nothing of it and cannot write over the new owner's record.

mod rigged;
mod sessions;

use rigged::Rigged;
use sessions::{Probe, work};

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use plan_agents::schedule::Schedule;
use plan_agents::session::{AgentEvent, Agents, Kind, Lease, SessionError, Sleep, TaskSpec};
use plan_runtime::prelude::*;
use plan_state::store::{InMemory, Key, Store};
use serde_json::json;
use tokio::sync::broadcast;

const SECOND: Duration = Duration::from_secs(1);

/// Leases of 3 s, renewed and scanned every second: an owner gives an agent up 2 s after its
/// last renewal, and its lease expires 3 s after it.
fn lease(owner: &str) -> Lease {
    Lease::new(owner)
        .ttl(3 * SECOND)
        .renew_every(SECOND)
        .scan_every(SECOND)
}

/// The time both processes start at.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_900_000_000)
}

/// A process: agents of kind `worker` over `store`, as `owner`.
async fn process<S: Store + 'static>(store: Arc<S>, probe: &Probe, owner: &str) -> Agents<S> {
    Agents::builder(store)
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .lease(lease(owner))
        .now(t0())
        .start()
        .await
        .unwrap()
}

fn task(name: &str, ms: u64) -> TaskSpec {
    TaskSpec::new(name).input(json!({ "ms": ms }))
}

/// The times (ms after the probe was made) at which `agent`'s attempts started, with each
/// task's name and attempt.
fn starts(probe: &Probe, agent: &str) -> Vec<(String, u32, u128)> {
    probe
        .started()
        .into_iter()
        .filter(|(a, ..)| a == agent)
        .map(|(_, task, attempt, at)| (task, attempt, at.as_millis()))
        .collect()
}

/// The events received so far.
fn received(events: &mut broadcast::Receiver<AgentEvent>) -> Vec<AgentEvent> {
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

/// The agents taken over among `events`, and from whom.
fn taken_over(events: &[AgentEvent]) -> Vec<(String, Option<String>)> {
    let mut taken: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TakenOver { agent, from } => Some((agent.clone(), from.clone())),
            _ => None,
        })
        .collect();
    taken.sort();
    taken
}

fn owned_by(result: Result<impl std::fmt::Debug, SessionError>, owner: &str) {
    match result {
        Err(SessionError::Owned { owner: o, .. }) if o == owner => {}
        other => panic!("expected owned by `{owner}`, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_owner_cut_off_from_the_store_stops_and_another_takes_its_agents_over_where_they_were() {
    let store = Arc::new(InMemory::new());
    let cut = Arc::new(Rigged::over(store.clone()));
    let (probe_a, probe_b) = (Probe::new(), Probe::new());
    let a = process(cut.clone(), &probe_a, "a").await;
    let b = process(store.clone(), &probe_b, "b").await;
    // A sleeper with a task for when it wakes, 20 s in; a busy agent 10 s into a job with two
    // more queued; a schedule every 5 s.
    a.create("sleeper", "worker", None).await.unwrap();
    a.sleep("sleeper", Sleep::until(t0() + 20 * SECOND))
        .await
        .unwrap();
    a.schedule("sleeper", task("wake-up", 0)).await.unwrap();
    a.create("busy", "worker", None).await.unwrap();
    a.schedule("busy", task("long", 10_000)).await.unwrap();
    a.schedule("busy", task("next", 100)).await.unwrap();
    a.schedule("busy", task("next", 100)).await.unwrap();
    a.create("cron", "worker", None).await.unwrap();
    a.every(
        "cron",
        Schedule::every(5 * SECOND).unwrap(),
        task("tick", 0),
    )
    .await
    .unwrap();

    // B owns none of them, and says whose they are.
    assert!(b.snapshot().await.unwrap().agents.is_empty());
    owned_by(b.status("busy").await, "a");
    owned_by(b.schedule("busy", task("next", 0)).await, "a");
    owned_by(b.create("busy", "worker", None).await, "a");
    assert!(matches!(
        b.status("nobody").await,
        Err(SessionError::NoAgent(_))
    ));
    let (mut a_events, mut b_events) = (a.events(), b.events());

    // 1.5 s in, A is cut off from the store: its renewal at 2 s fails, and at 3 s, a renewal
    // before its leases expire, it gives its agents up, cancelling the job.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(probe_a.running.load(Ordering::SeqCst), 1);
    cut.fail(Some(""));
    tokio::time::sleep(Duration::from_millis(1_400)).await;
    assert_eq!(
        a.snapshot().await.unwrap().agents.len(),
        3,
        "not before 3 s"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(a.snapshot().await.unwrap().agents.is_empty());
    assert_eq!(probe_a.running.load(Ordering::SeqCst), 0, "the job runs on");
    let lost: Vec<String> = received(&mut a_events)
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::Lost { agent, .. } => Some(agent),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 3, "{lost:?}");
    assert!(matches!(a.status("busy").await, Err(SessionError::Lost(_))));
    assert!(taken_over(&received(&mut b_events)).is_empty());

    // At 4 s the leases expire, and B's scan takes the agents over.
    tokio::time::sleep(SECOND).await;
    let events = received(&mut b_events);
    let from_a = Some("a".to_owned());
    assert_eq!(
        taken_over(&events),
        [
            ("busy".to_owned(), from_a.clone()),
            ("cron".to_owned(), from_a.clone()),
            ("sleeper".to_owned(), from_a)
        ]
    );
    owned_by(a.status("busy").await, "b");

    // Then each carries on: the job A cut off runs again as its next attempt, then the queued
    // tasks, once each; the schedule at 5, 10, 15 and 20 s; the sleeper wakes at 20 s.
    tokio::time::sleep(17 * SECOND).await;
    assert_eq!(starts(&probe_a, "busy"), [("long".to_owned(), 1, 0)]);
    assert!(starts(&probe_a, "cron").is_empty());
    assert!(starts(&probe_a, "sleeper").is_empty());
    let busy: Vec<(String, u32, u128)> =
        [("long", 2, 4_000), ("next", 1, 14_000), ("next", 1, 14_100)]
            .into_iter()
            .map(|(t, n, at)| (t.to_owned(), n, at))
            .collect();
    assert_eq!(starts(&probe_b, "busy"), busy);
    let ticks: Vec<u128> = starts(&probe_b, "cron").iter().map(|s| s.2).collect();
    assert_eq!(ticks, [5_000, 10_000, 15_000, 20_000]);
    assert_eq!(
        starts(&probe_b, "sleeper"),
        [("wake-up".to_owned(), 1, 20_000)]
    );
    assert_eq!(b.state("busy").await.unwrap(), json!({ "n": 3 }));
    assert_eq!(b.status("busy").await.unwrap().queued, 0);
}

#[tokio::test(start_paused = true)]
async fn an_owner_dropped_without_a_shutdown_is_taken_over_once_its_leases_expire() {
    let store = Arc::new(InMemory::new());
    let (probe_a, probe_b) = (Probe::new(), Probe::new());
    let a = process(store.clone(), &probe_a, "a").await;
    let b = process(store.clone(), &probe_b, "b").await;
    a.create("ada", "worker", None).await.unwrap();
    a.sleep("ada", Sleep::for_(60 * SECOND)).await.unwrap();
    let mut events = b.events();
    // A dies 1.5 s in: its renewal at 1 s was its last, and its lease expires at 4 s.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(2_400)).await;
    owned_by(b.status("ada").await, "a");
    // Taken over by B's scan at 4 s: within the ttl and a scan of A's last renewal.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        taken_over(&received(&mut events)),
        [("ada".to_owned(), Some("a".to_owned()))]
    );
    let ada = b.status("ada").await.unwrap();
    assert_eq!(ada.wake_at_ms, Some(1_900_000_060_000));
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_releases_the_agents_to_the_next_scan() {
    let store = Arc::new(InMemory::new());
    let (probe_a, probe_b) = (Probe::new(), Probe::new());
    let a = process(store.clone(), &probe_a, "a").await;
    let b = process(store.clone(), &probe_b, "b").await;
    a.create("ada", "worker", None).await.unwrap();
    a.schedule("ada", task("job", 5_000)).await.unwrap();
    let (mut a_events, mut b_events) = (a.events(), b.events());
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.shutdown().await;
    assert!(received(&mut a_events).contains(&AgentEvent::Released {
        agent: "ada".to_owned()
    }));
    // B's next scan, at 1 s, takes it over: no waiting for the lease to expire.
    tokio::time::sleep(SECOND).await;
    assert_eq!(
        taken_over(&received(&mut b_events)),
        [("ada".to_owned(), Some("a".to_owned()))]
    );
    assert_eq!(
        starts(&probe_b, "ada"),
        [("job".to_owned(), 2, 1_000)],
        "the job a shutdown cut off runs again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_paused_owners_late_write_cannot_overwrite_the_new_owners_record() {
    let store = Arc::new(InMemory::new());
    let slow = Arc::new(Rigged::over(store.clone()));
    let (probe_a, probe_b) = (Probe::new(), Probe::new());
    let a = process(slow.clone(), &probe_a, "a").await;
    let b = process(store.clone(), &probe_b, "b").await;
    a.create("ada", "worker", None).await.unwrap();
    // From now on each of A's writes lands 10 s after it was made: A is as good as paused
    // in the middle of queuing a task, with the agent's record as it read it.
    slow.delay_ms.store(10_000, Ordering::SeqCst);
    let late = tokio::spawn({
        let a = a.clone();
        async move { a.schedule("ada", task("late", 0)).await }
    });
    // A's lease is not renewed by 2 s (A gives ada up), and expires at 3 s: B takes ada over
    // and runs a task of its own.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    b.schedule("ada", task("mine", 0)).await.unwrap();
    tokio::time::sleep(SECOND).await;
    assert_eq!(b.state("ada").await.unwrap(), json!({ "n": 1 }));
    // A's write lands at 10 s, on the record as it was before B took ada over: refused.
    owned_by(late.await.unwrap(), "b");
    let record = store
        .get(&Key::new("agents/ada/record").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.value["state"], json!({ "n": 1 }));
    assert_eq!(record.value["tasks"], json!([]), "A's task is not in it");
    assert!(probe_a.started().is_empty());
    assert_eq!(probe_b.names(), ["ada:mine"]);
}

#[tokio::test(start_paused = true)]
async fn an_owner_whose_lease_was_taken_gives_the_agent_up_at_its_next_renewal() {
    let store = Arc::new(InMemory::new());
    let probe = Probe::new();
    let a = process(store.clone(), &probe, "a").await;
    a.create("ada", "worker", None).await.unwrap();
    a.schedule("ada", task("job", 5_000)).await.unwrap();
    let mut events = a.events();
    // Another process writes ada's lease as its own (as if A's had expired).
    let key = Key::new("agents/ada/lease").unwrap();
    let stolen = json!({ "owner": "c", "expires_at_ms": 1_900_000_100_000u64 });
    store.put(&key, &stolen).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let lost: Vec<AgentEvent> = received(&mut events)
        .into_iter()
        .filter(|e| matches!(e, AgentEvent::Lost { .. }))
        .collect();
    assert_eq!(
        lost,
        [AgentEvent::Lost {
            agent: "ada".to_owned(),
            reason: "its lease was taken by `c`".to_owned()
        }]
    );
    assert_eq!(
        probe.running.load(Ordering::SeqCst),
        0,
        "its job was cancelled"
    );
    owned_by(a.status("ada").await, "c");
    assert_eq!(store.get(&key).await.unwrap().unwrap().value, stolen);
}

#[tokio::test(start_paused = true)]
async fn a_process_started_again_under_its_owner_takes_its_agents_back_at_once() {
    let store = Arc::new(InMemory::new());
    let probe = Probe::new();
    let a = process(store.clone(), &probe, "a").await;
    let b = process(store.clone(), &probe, "b").await;
    a.create("ada", "worker", None).await.unwrap();
    a.sleep("ada", Sleep::for_(60 * SECOND)).await.unwrap();
    drop(a); // a crash: its leases are not released
    let again = process(store.clone(), &probe, "a").await;
    let ada = again.status("ada").await.unwrap();
    assert_eq!(ada.wake_at_ms, Some(1_900_000_060_000));
    tokio::time::sleep(10 * SECOND).await;
    owned_by(b.status("ada").await, "a");
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_cannot_work_is_refused() {
    let store = Arc::new(InMemory::new());
    let start = |lease: Lease| {
        Agents::builder(store.clone())
            .kind("worker", Kind::new(plan! { work }).ctx(Probe::new()))
            .lease(lease)
            .start()
    };
    let err = start(Lease::new("a").ttl(SECOND).renew_every(SECOND / 2))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the agents' lease cannot work: renew_every must be more than 0 and less than half the ttl"
    );
    let err = start(Lease::new("")).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "the agents' lease cannot work: its owner must be 1 to 255 bytes long"
    );
}
