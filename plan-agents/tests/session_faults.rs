//! Agent sessions when things go wrong, on tokio's paused clock: a store that refuses writes
//! (a refused change is undone, or written again later), races between calls, timers that
//! come late, restarts that fail, a shutdown in the middle of a write, cron at the edges of a
//! second. Each was a bug found by a review, and each test failed before its fix.

mod rigged;
mod sessions;

use rigged::Rigged;
use sessions::{Probe, start, work};

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use plan_agents::bus::Message;
use plan_agents::schedule::Schedule;
use plan_agents::session::{AgentEvent, AgentLimits, Agents, Kind, Sleep, State, TaskSpec};
use plan_runtime::prelude::*;
use serde_json::json;

fn task(name: &str, ms: u64) -> TaskSpec {
    TaskSpec::new(name).input(json!({ "ms": ms }))
}

/// FIFO: an agent that left the queue for a slot (it fell asleep) and joins it again is a
/// newcomer; it must not take the place it had before.
#[tokio::test(start_paused = true)]
async fn an_agent_that_rejoins_the_queue_for_a_slot_goes_to_its_end() {
    let probe = Probe::new();
    let limits = AgentLimits {
        active_agents: 1,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(Rigged::new()), &probe, limits).await;
    for name in ["x", "a", "b"] {
        agents.create(name, "worker", None).await.unwrap();
    }
    agents.schedule("x", task("x", 100)).await.unwrap(); // holds the one slot
    agents.schedule("a", task("a", 10)).await.unwrap(); // a queues
    agents.sleep("a", Sleep::indefinitely()).await.unwrap(); // a leaves the queue
    agents.schedule("b", task("b", 10)).await.unwrap(); // b queues
    agents.wake("a").await.unwrap(); // a queues again, behind b
    assert_eq!(agents.status("b").await.unwrap().state, State::Waiting);
    assert_eq!(agents.status("a").await.unwrap().state, State::Waiting);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        probe.names(),
        ["x:x", "b:b", "a:a"],
        "b waited longer than a"
    );
}

/// A schedule that could not be saved changes nothing: no state is announced.
#[tokio::test(start_paused = true)]
async fn a_task_the_store_refused_announces_no_change_of_state() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    let mut events = agents.events();
    store.fail(Some("ada/record"));
    agents.schedule("ada", task("t", 10)).await.unwrap_err();
    let seen: Vec<AgentEvent> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, AgentEvent::State { .. }))
        .collect();
    assert!(seen.is_empty(), "{seen:?}");
}

/// Mail the store refused queued nothing, and woke nobody: the agent sleeps on, as its record
/// in the store says.
#[tokio::test(start_paused = true)]
async fn urgent_mail_the_store_refused_leaves_the_agent_asleep() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    agents
        .sleep("ada", Sleep::indefinitely().or_mail(5))
        .await
        .unwrap();
    store.fail(Some("ada/record"));
    let urgent = Message::json(&json!({ "ms": 1 })).unwrap().with_priority(5);
    agents.mail("ada", urgent).await.unwrap_err();
    store.fail(None);
    assert_eq!(agents.status("ada").await.unwrap().state, State::Sleeping);
}

/// One agent whose record cannot be written does not keep the others asleep.
#[tokio::test(start_paused = true)]
async fn a_signal_wakes_every_sleeper_though_one_cannot_be_saved() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    for name in ["a", "b"] {
        agents.create(name, "worker", None).await.unwrap();
        agents
            .sleep(name, Sleep::indefinitely().or_event("go"))
            .await
            .unwrap();
    }
    store.fail(Some("agents/a/record"));
    let _ = agents.signal("go").await;
    assert_eq!(
        agents.status("b").await.unwrap().state,
        State::Idle,
        "b was not woken"
    );
}

/// A queued task runs once the store works again, without anyone touching the agent.
#[tokio::test(start_paused = true)]
async fn a_queued_task_runs_once_the_store_recovers() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    agents.schedule("ada", task("one", 100)).await.unwrap();
    agents.schedule("ada", task("two", 100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.fail(Some("ada/record")); // "one" ends while the store is down
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.fail(None);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(probe.names(), ["ada:one", "ada:two"]);
}

/// An `every` the store refused added no schedule: trying again leaves one schedule.
#[tokio::test(start_paused = true)]
async fn an_every_the_store_refused_adds_no_schedule() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    let every = Schedule::every(Duration::from_secs(1)).unwrap();
    store.fail(Some("ada/record"));
    agents
        .every("ada", every.clone(), task("tick", 0))
        .await
        .unwrap_err();
    store.fail(None);
    agents.every("ada", every, task("tick", 0)).await.unwrap();
    assert_eq!(agents.status("ada").await.unwrap().schedules.len(), 1);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(probe.names(), ["ada:tick"]);
}

/// Agents over `store` whose agent `ada`, asleep, has one dead task: `job`, which failed its
/// one attempt.
async fn one_dead_task(store: &Arc<Rigged>, probe: &Probe) -> Agents<Rigged> {
    let limits = AgentLimits {
        max_attempts: 1,
        ..AgentLimits::default()
    };
    let agents = start(store.clone(), probe, limits).await;
    agents.create("ada", "worker", None).await.unwrap();
    let failing = TaskSpec::new("job").input(json!({ "ms": 10, "fail": true }));
    agents.schedule("ada", failing).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(agents.dead_tasks("ada").await.unwrap().len(), 1);
    agents.sleep("ada", Sleep::indefinitely()).await.unwrap();
    agents
}

/// A replay the store refused queued nothing; replayed later, each dead task runs once.
#[tokio::test(start_paused = true)]
async fn a_replay_the_store_refused_queues_nothing() {
    let (probe, store) = (Probe::new(), Arc::new(Rigged::new()));
    let agents = one_dead_task(&store, &probe).await;
    store.fail(Some("ada/record"));
    agents.replay_dead_tasks("ada").await.unwrap_err();
    store.fail(None);
    assert_eq!(
        agents.status("ada").await.unwrap().queued,
        0,
        "the failed replay queued it"
    );
    assert_eq!(agents.replay_dead_tasks("ada").await.unwrap(), 1);
    agents.wake("ada").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(probe.started().len(), 2, "{:?}", probe.started());
}

/// Two replays at once queue each dead task once.
#[tokio::test(start_paused = true)]
async fn two_replays_at_once_queue_each_dead_task_once() {
    let (probe, store) = (Probe::new(), Arc::new(Rigged::new()));
    let agents = one_dead_task(&store, &probe).await;
    store.yield_reads.store(true, Ordering::SeqCst);
    let (one, two) = tokio::join!(
        agents.replay_dead_tasks("ada"),
        agents.replay_dead_tasks("ada")
    );
    assert_eq!(one.unwrap() + two.unwrap(), 1);
    assert_eq!(agents.status("ada").await.unwrap().queued, 1);
}

/// A stop that could not dead-letter everything gives back the agent's active slot.
#[tokio::test(start_paused = true)]
async fn a_stop_that_failed_gives_back_the_active_slot() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let limits = AgentLimits {
        active_agents: 1,
        ..AgentLimits::default()
    };
    let agents = start(store.clone(), &probe, limits).await;
    agents.create("a", "worker", None).await.unwrap();
    agents.create("b", "worker", None).await.unwrap();
    agents.schedule("a", task("long", 1_000)).await.unwrap();
    agents.schedule("b", task("short", 10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await; // a's task is under way
    store.fail(Some("agents/a/dead/"));
    agents.stop("a").await.unwrap_err(); // its running task is cancelled, not buried
    store.fail(None);
    tokio::time::sleep(Duration::from_secs(60)).await;
    // a runs nothing (its task was cancelled): its slot should have gone to b.
    assert_eq!(probe.names(), ["a:long", "b:short"]);
}

/// A dead letter that cannot be written does not make a task run more than max_attempts.
#[tokio::test(start_paused = true)]
async fn a_task_runs_at_most_max_attempts_even_when_it_cannot_be_buried() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let limits = AgentLimits {
        max_attempts: 2,
        ..AgentLimits::default()
    };
    let agents = start(store.clone(), &probe, limits).await;
    agents.create("ada", "worker", None).await.unwrap();
    store.fail(Some("ada/dead/"));
    let failing = TaskSpec::new("job").input(json!({ "ms": 10, "fail": true }));
    agents.schedule("ada", failing).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attempts: Vec<u32> = probe.started().into_iter().map(|(_, _, n, _)| n).collect();
    assert!(
        attempts.len() <= 2,
        "{} attempts: {attempts:?}",
        attempts.len()
    );
}

/// `Builder::start` that fails runs nothing: the agents it restored before the failure do not
/// run on in the background.
#[tokio::test(start_paused = true)]
async fn a_start_that_fails_runs_nothing() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let first = start(store.clone(), &probe, AgentLimits::default()).await;
    for name in ["a", "b"] {
        first.create(name, "worker", None).await.unwrap();
        first.sleep(name, Sleep::indefinitely()).await.unwrap();
    }
    first.schedule("a", task("job", 10)).await.unwrap();
    // Awake in the store, so that a restart runs it.
    first.wake("a").await.unwrap();
    first.shutdown().await;
    drop(first);
    let probe = Probe::new();
    store.fail(Some("agents/b/record"));
    let second = Agents::builder(store.clone())
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .start()
        .await;
    assert!(second.is_err());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(probe.names(), Vec::<String>::new(), "a zombie ran a's task");
}

/// An `every` schedule comes due every period from when it was set, however late the timer
/// got the agent's lock.
#[tokio::test(start_paused = true)]
async fn an_every_schedule_does_not_drift_when_its_timer_waits_for_the_lock() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let t0 = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    let agents = Agents::builder(store.clone())
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .now(t0)
        .start()
        .await
        .unwrap();
    agents.create("ada", "worker", None).await.unwrap();
    let first = agents
        .every(
            "ada",
            Schedule::every(Duration::from_secs(1)).unwrap(),
            task("tick", 0),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, 1_900_000_001_000);
    store.delay_ms.store(10, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(995)).await;
    // Holds ada's lock over a write from 995 ms to 1,005 ms, across the schedule's time.
    agents.wake("ada").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        agents.status("ada").await.unwrap().schedules,
        [1_900_000_002_000]
    );
}

/// `shutdown` writes nothing more, as a crash would: a turn that ends after it was called is
/// not taken into the store.
#[tokio::test(start_paused = true)]
async fn nothing_is_written_once_shutdown_is_called() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    agents.create("a", "worker", None).await.unwrap();
    agents.create("b", "worker", None).await.unwrap();
    agents.schedule("a", task("a", 10)).await.unwrap();
    agents.schedule("b", task("b", 18)).await.unwrap();
    store.delay_ms.store(10, Ordering::SeqCst);
    // a's turn ends at 10 ms and holds a's lock over its write until 20 ms.
    tokio::time::sleep(Duration::from_millis(12)).await;
    let writes = store.writes.load(Ordering::SeqCst);
    agents.shutdown().await; // waits for a's lock; meanwhile b's turn ends at 18 ms
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.writes.load(Ordering::SeqCst),
        writes,
        "written after shutdown"
    );
}

/// With two tasks at once, a turn rerun because another changed the state meanwhile is rerun
/// without bound: it never counts as an attempt and is never dead-lettered.
#[tokio::test(start_paused = true)]
async fn a_long_turn_among_short_ones_is_not_rerun_forever() {
    let probe = Probe::new();
    let limits = AgentLimits {
        tasks_per_agent: 2,
        queue: 64,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(Rigged::new()), &probe, limits).await;
    agents.create("ada", "worker", None).await.unwrap();
    agents
        .schedule("ada", task("long", 150).priority(9))
        .await
        .unwrap();
    for _ in 0..40 {
        agents.schedule("ada", task("short", 100)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    let longs = probe
        .started()
        .into_iter()
        .filter(|(_, t, _, _)| t == "long")
        .count();
    assert!(longs <= 3, "the long task ran {longs} times");
}

/// Cron times are whole seconds: the first named strictly after `after`, whatever its
/// milliseconds.
#[test]
fn cron_next_after_at_millisecond_edges() {
    let s = Schedule::cron("*/15 * * * * *").unwrap();
    let m = Schedule::cron("* * * * *").unwrap();
    let got: Vec<_> = [14_999, 15_000, 15_001, 0].map(|a| s.next_after(a)).into();
    let got_m: Vec<_> = [59_999, 60_000, 60_500].map(|a| m.next_after(a)).into();
    assert_eq!(
        (got, got_m),
        (
            vec![Some(15_000), Some(30_000), Some(30_000), Some(15_000)],
            vec![Some(60_000), Some(120_000), Some(120_000)]
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_the_store_could_not_keep_is_not_queued_and_events_come_in_order() {
    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    store.fail(Some("ada/record"));
    let failed = agents.schedule("ada", task("t", 10)).await.unwrap_err();
    assert_eq!(
        failed.to_string(),
        "write of `agents/ada/record` in rigged failed: disk full"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(agents.status("ada").await.unwrap().queued, 0);
    assert!(probe.started().is_empty(), "the refused task never runs");

    store.fail(None);
    let mut events = agents.events();
    let id = agents.schedule("ada", task("t", 10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let seen: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| match e {
            AgentEvent::TaskQueued { task, .. } => format!("queued {task}"),
            AgentEvent::TaskStarted { task, .. } => format!("started {task}"),
            AgentEvent::TaskDone { task, .. } => format!("done {task}"),
            AgentEvent::State { to, .. } => format!("{to}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        seen,
        [
            format!("queued {id}"),
            format!("started {id}"),
            "active".into(),
            format!("done {id}"),
            "idle".into()
        ]
    );
}

/// Mail forwarded from a bus mailbox while the store refuses writes waits, unacked, and is
/// queued once the store is back: nothing is lost, nothing dead-lettered.
#[tokio::test(start_paused = true)]
async fn forwarded_mail_waits_out_a_store_that_fails() {
    use plan_agents::bus::{Bus, InMemory, Name};

    let probe = Probe::new();
    let store = Arc::new(Rigged::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    let bus = InMemory::new();
    let inbox = Name::new("inbox-ada").unwrap();
    let consumer = bus.consume(&inbox).await.unwrap();
    let forwarding = tokio::spawn({
        let agents = agents.clone();
        async move { agents.forward_mailbox(consumer, "ada").await }
    });
    store.fail(Some("ada/record"));
    bus.send(&inbox, Message::json(&json!({ "ms": 1 })).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(probe.started().is_empty());
    assert!(!forwarding.is_finished(), "the forwarder gave up");
    store.fail(None);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(probe.names(), ["ada:mail"]);
    assert!(bus.dead_letters(&inbox).await.unwrap().is_empty());
    forwarding.abort();
}
