//! Agent sessions on tokio's paused clock, over the in-memory store (which never waits on a
//! thread, so the clock stays exact): states and their events, queues and limits, sleep and
//! wake, schedules, retries and dead letters, restarts, and 10,000 sleepers.

mod sessions;

use sessions::{Count, Probe, start, work};

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use plan_agents::bus::{self, Bus, Message, Name};
use plan_agents::schedule::Schedule;
use plan_agents::session::{
    AgentEvent, AgentLimits, Agents, Kind, SessionError, Sleep, State, TaskSpec, Turn, Wake,
};
use plan_runtime::prelude::*;
use plan_state::store::{InMemory, Key, Store};
use serde_json::json;
use tokio::sync::broadcast;
use tokio::time::Instant;

fn task(ms: u64) -> TaskSpec {
    TaskSpec::new("work").input(json!({ "ms": ms }))
}

/// The state changes of `agent` among the events received so far.
fn states(events: &mut broadcast::Receiver<AgentEvent>, agent: &str) -> Vec<(State, State)> {
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let AgentEvent::State {
            agent: a, from, to, ..
        } = event
            && a == agent
        {
            seen.push((from, to));
        }
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn every_change_of_state_is_an_event() {
    let probe = Probe::new();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    let mut events = agents.events();
    let created = agents.create("ada", "worker", None).await.unwrap();
    assert_eq!(created.state, State::Idle);
    agents.schedule("ada", task(100)).await.unwrap();
    assert_eq!(agents.status("ada").await.unwrap().state, State::Active);
    tokio::time::sleep(Duration::from_millis(101)).await;
    agents.sleep("ada", Sleep::indefinitely()).await.unwrap();
    assert!(agents.wake("ada").await.unwrap());
    agents.stop("ada").await.unwrap();
    use State::*;
    assert_eq!(
        states(&mut events, "ada"),
        [
            (Idle, Active),
            (Active, Idle),
            (Idle, Sleeping),
            (Sleeping, Idle),
            (Idle, Stopped)
        ]
    );
    let status = agents.status("ada").await.unwrap();
    assert_eq!((status.done, status.last_task_ms), (1, Some(100)));
    assert_eq!(agents.state("ada").await.unwrap(), json!({ "n": 1 }));
    assert!(matches!(
        agents.schedule("ada", task(1)).await,
        Err(SessionError::Stopped(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn an_agents_events_are_kept_in_the_store_and_read_back_as_they_were() {
    let probe = Probe::new();
    let store = Arc::new(InMemory::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    let mut events = agents.events();
    agents.create("ada", "worker", None).await.unwrap();
    agents.schedule("ada", task(100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(101)).await;
    agents.sleep("ada", Sleep::indefinitely()).await.unwrap();
    agents.wake("ada").await.unwrap();
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    // An audit trail, as an application would keep one: every kind of event is in it.
    assert!(
        seen.iter()
            .any(|e| matches!(e, AgentEvent::TaskDone { .. }))
    );
    assert!(seen.iter().any(|e| matches!(
        e,
        AgentEvent::State {
            woken_by: Some(_),
            ..
        }
    )));
    let key = Key::new("audit/ada").unwrap();
    store
        .put(&key, &serde_json::to_value(&seen).unwrap())
        .await
        .unwrap();
    let kept = store.get(&key).await.unwrap().unwrap().value;
    assert_eq!(
        serde_json::from_value::<Vec<AgentEvent>>(kept).unwrap(),
        seen
    );
}

#[tokio::test(start_paused = true)]
async fn an_agent_runs_its_limit_of_tasks_at_once_highest_priority_first() {
    let probe = Probe::new();
    let limits = AgentLimits {
        tasks_per_agent: 2,
        queue: 6,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(InMemory::new()), &probe, limits).await;
    agents.create("ada", "worker", None).await.unwrap();
    agents.sleep("ada", Sleep::indefinitely()).await.unwrap();
    for (i, priority) in [0, 0, 5, 0, 9, 0].into_iter().enumerate() {
        // These tasks leave the state alone, so none waits for another's change.
        let spec = TaskSpec::new(format!("t{i}"))
            .input(json!({ "ms": 100, "keep": true }))
            .priority(priority);
        agents.schedule("ada", spec).await.unwrap();
    }
    // The queue holds six: a seventh is refused, and nothing is lost.
    let full = agents.schedule("ada", task(100)).await.unwrap_err();
    assert_eq!(
        full.to_string(),
        "agent `ada` has 6 tasks queued, its limit"
    );
    assert_eq!(agents.status("ada").await.unwrap().queued, 6);
    let start = Instant::now();
    agents.wake("ada").await.unwrap();
    tokio::time::sleep(Duration::from_millis(301)).await;
    assert_eq!(agents.status("ada").await.unwrap().state, State::Idle);
    assert_eq!(probe.most.load(Ordering::SeqCst), 2);
    let order: Vec<(String, u128)> = probe
        .started()
        .into_iter()
        .map(|(_, t, _, at)| {
            (
                t,
                at.as_millis() - start.duration_since(probe.origin).as_millis(),
            )
        })
        .collect();
    let expected: Vec<(String, u128)> = [
        ("t4", 0),
        ("t2", 0),
        ("t0", 100),
        ("t1", 100),
        ("t3", 200),
        ("t5", 200),
    ]
    .into_iter()
    .map(|(t, ms)| (t.to_owned(), ms))
    .collect();
    assert_eq!(order, expected);
}

#[tokio::test(start_paused = true)]
async fn two_turns_at_once_lose_neither_change_to_the_state() {
    let probe = Probe::new();
    let limits = AgentLimits {
        tasks_per_agent: 2,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(InMemory::new()), &probe, limits).await;
    let mut events = agents.events();
    agents.create("ada", "worker", None).await.unwrap();
    agents.schedule("ada", task(100)).await.unwrap();
    agents.schedule("ada", task(150)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Both ran at once from n = 0; the second to finish saw the first's change and ran
    // again, from n = 1.
    assert_eq!(probe.most.load(Ordering::SeqCst), 2);
    assert_eq!(agents.state("ada").await.unwrap(), json!({ "n": 2 }));
    let starts: Vec<Duration> = probe
        .started()
        .into_iter()
        .map(|(_, _, _, at)| at)
        .collect();
    let ms = Duration::from_millis;
    assert_eq!(starts, [ms(0), ms(0), ms(150)]);
    let retried = std::iter::from_fn(|| events.try_recv().ok()).any(|e| {
        matches!(e, AgentEvent::TaskFailed { task: 2, dead: false, ref error, .. }
            if error.starts_with("another turn changed the agent's state meanwhile"))
    });
    assert!(retried);
}

#[tokio::test(start_paused = true)]
async fn no_more_agents_are_active_than_the_limit_and_the_rest_wait_their_turn() {
    let probe = Probe::new();
    let limits = AgentLimits {
        active_agents: 2,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(InMemory::new()), &probe, limits).await;
    for name in ["a", "b", "c", "d", "e"] {
        agents.create(name, "worker", None).await.unwrap();
        agents.schedule(name, task(100)).await.unwrap();
    }
    let snapshot = agents.snapshot().await.unwrap();
    assert_eq!(
        (
            snapshot.count(State::Active),
            snapshot.count(State::Waiting)
        ),
        (2, 3)
    );
    tokio::time::sleep(Duration::from_millis(301)).await;
    let starts: Vec<(String, Duration)> = probe
        .started()
        .into_iter()
        .map(|(agent, _, _, at)| (agent, at))
        .collect();
    let ms = Duration::from_millis;
    assert_eq!(
        starts,
        [
            ("a".into(), ms(0)),
            ("b".into(), ms(0)),
            ("c".into(), ms(100)),
            ("d".into(), ms(100)),
            ("e".into(), ms(200))
        ]
    );
    assert_eq!(probe.most.load(Ordering::SeqCst), 2);
    assert_eq!(agents.snapshot().await.unwrap().count(State::Idle), 5);
}

#[tokio::test(start_paused = true)]
async fn a_sleeping_agent_wakes_on_its_timer_its_events_or_urgent_mail_and_nothing_else() {
    let probe = Probe::new();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    let mut events = agents.events();
    for name in ["timer", "event", "mail"] {
        agents.create(name, "worker", None).await.unwrap();
        let sleep = Sleep::for_(Duration::from_secs(60))
            .or_event(format!("{name}-alert"))
            .or_mail(5);
        agents.sleep(name, sleep).await.unwrap();
        agents.schedule(name, task(0)).await.unwrap();
    }
    // Mail below the priority, and another agent's event, wake nobody.
    agents
        .mail(
            "mail",
            Message::json(&json!({ "note": "fyi" }))
                .unwrap()
                .with_priority(4),
        )
        .await
        .unwrap();
    assert_eq!(agents.signal("nobody-sleeps-on-this").await.unwrap(), 0);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(probe.started().is_empty());
    assert_eq!(agents.status("mail").await.unwrap().queued, 2);

    assert_eq!(agents.signal("event-alert").await.unwrap(), 1);
    agents
        .mail(
            "mail",
            Message::json(&json!({ "note": "urgent" }))
                .unwrap()
                .with_priority(5),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(51)).await;
    let woken: Vec<(String, Wake)> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|event| match event {
            AgentEvent::State {
                agent,
                woken_by: Some(by),
                ..
            } => Some((agent, by)),
            _ => None,
        })
        .collect();
    assert_eq!(
        woken,
        [
            (
                "event".into(),
                Wake::Event {
                    event: "event-alert".into()
                }
            ),
            ("mail".into(), Wake::Mail { priority: 5 }),
            ("timer".into(), Wake::Timer),
        ]
    );
    let starts = probe.started();
    let at = |agent: &str| {
        starts
            .iter()
            .filter(|(a, _, _, _)| a == agent)
            .map(|(_, t, _, at)| (t.clone(), at.as_secs()))
            .collect::<Vec<_>>()
    };
    assert_eq!(at("event"), [("work".into(), 10)]);
    // The urgent mail wakes it; the earlier mail, of the same agent, waited, and runs too
    // (higher priority first).
    assert_eq!(
        at("mail"),
        [
            ("mail".into(), 10),
            ("mail".into(), 10),
            ("work".into(), 10)
        ]
    );
    assert_eq!(at("timer"), [("work".into(), 60)]);
}

#[tokio::test(start_paused = true)]
async fn schedules_queue_their_task_at_each_time_and_wake_the_agent() {
    let probe = Probe::new();
    // 1 January 2030, 00:00:00 UTC.
    let midnight = UNIX_EPOCH + Duration::from_secs(1_893_456_000);
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .now(midnight)
        .start()
        .await
        .unwrap();
    agents.create("cron", "worker", None).await.unwrap();
    agents.create("every", "worker", None).await.unwrap();
    agents.sleep("cron", Sleep::indefinitely()).await.unwrap();
    let first = agents
        .every(
            "cron",
            Schedule::cron("*/15 * * * * *").unwrap(),
            TaskSpec::new("tick"),
        )
        .await
        .unwrap();
    assert_eq!(first, Some(1_893_456_015_000));
    agents
        .every(
            "every",
            Schedule::every(Duration::from_secs(20)).unwrap(),
            TaskSpec::new("tock"),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await;
    let mut at: Vec<(String, u64)> = probe
        .started()
        .into_iter()
        .map(|(_, task, _, at)| (task, at.as_secs()))
        .collect();
    // Two agents' timers at one instant fire in either order.
    at.sort_by_key(|(task, secs)| (*secs, task.clone()));
    let expected: Vec<(String, u64)> = [
        ("tick", 15),
        ("tock", 20),
        ("tick", 30),
        ("tock", 40),
        ("tick", 45),
        ("tick", 60),
        ("tock", 60),
    ]
    .into_iter()
    .map(|(t, s)| (t.to_owned(), s))
    .collect();
    assert_eq!(at, expected);
    // Woken by its schedule, it stays awake.
    assert_eq!(agents.status("cron").await.unwrap().state, State::Idle);
    assert_eq!(
        agents.status("cron").await.unwrap().schedules,
        [1_893_456_075_000]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_task_is_tried_again_then_dead_lettered_and_can_be_replayed() {
    let probe = Probe::new();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    let mut events = agents.events();
    agents.create("ada", "worker", None).await.unwrap();
    agents
        .schedule(
            "ada",
            TaskSpec::new("flaky").input(json!({ "ms": 10, "fail": true })),
        )
        .await
        .unwrap();
    agents
        .schedule("ada", TaskSpec::new("bad").input(json!({ "panic": true })))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let failures: Vec<(String, u32, String, bool)> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|event| match event {
            AgentEvent::TaskFailed {
                name,
                attempt,
                error,
                dead,
                ..
            } => Some((name, attempt, error, dead)),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 6, "{failures:#?}");
    for (i, (name, attempt, error, dead)) in failures.iter().enumerate() {
        let (expected_name, expected_attempt) = [
            ("flaky", 1),
            ("flaky", 2),
            ("flaky", 3),
            ("bad", 1),
            ("bad", 2),
            ("bad", 3),
        ][i];
        assert_eq!((name.as_str(), *attempt), (expected_name, expected_attempt));
        assert_eq!(*dead, *attempt == 3);
        if *name == "flaky" {
            assert!(
                error.contains(&format!("attempt {attempt} failed")),
                "{error}"
            );
            assert!(error.contains("work"), "the error names the step: {error}");
        } else {
            assert!(
                error.starts_with("`work` (step at 0, plan-agents/tests/sessions/mod.rs:")
                    && error.ends_with(" panicked: the model returned nonsense"),
                "the error names the step: {error}"
            );
        }
    }
    let dead = agents.dead_tasks("ada").await.unwrap();
    let names: Vec<(&str, u32)> = dead
        .iter()
        .map(|d| (d.task.name.as_str(), d.task.attempt))
        .collect();
    assert_eq!(names, [("flaky", 3), ("bad", 3)]);
    let status = agents.status("ada").await.unwrap();
    assert_eq!((status.failed, status.dead, status.queued), (6, 2, 0));
    // Replayed, they are queued afresh (and fail again: the fault is in them).
    assert_eq!(agents.replay_dead_tasks("ada").await.unwrap(), 2);
    assert!(agents.dead_tasks("ada").await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(agents.dead_tasks("ada").await.unwrap().len(), 2);
    assert_eq!(probe.started().len(), 12);
}

#[tokio::test(start_paused = true)]
async fn stopping_an_agent_cancels_its_running_task_and_dead_letters_its_queue() {
    let probe = Probe::new();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    agents.schedule("ada", task(1_000)).await.unwrap();
    agents.schedule("ada", task(1_000)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(probe.running.load(Ordering::SeqCst), 1);
    let mut events = agents.events();
    agents.stop("ada").await.unwrap();
    let told: Vec<(u64, bool)> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            AgentEvent::TaskFailed { task, dead, .. } => Some((task, dead)),
            _ => None,
        })
        .collect();
    assert_eq!(told, [(1, true), (2, true)], "each task it lost is told");
    let status = agents.status("ada").await.unwrap();
    assert_eq!(
        (status.state, status.dead, status.queued),
        (State::Stopped, 2, 0)
    );
    tokio::task::yield_now().await;
    // The running task was dropped where it was: it never finished, nor counted.
    assert_eq!(probe.running.load(Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(agents.state("ada").await.unwrap(), json!({ "n": 0 }));
    let dead: Vec<String> = agents
        .dead_tasks("ada")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.error)
        .collect();
    assert_eq!(
        dead,
        [
            "the agent was stopped during attempt 1",
            "the agent was stopped before the task ran"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_restores_states_queues_wake_times_and_retries_what_the_crash_cut_off() {
    let store = Arc::new(InMemory::new());
    let probe = Probe::new();
    let t0 = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    let first = Agents::builder(store.clone())
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .now(t0)
        .start()
        .await
        .unwrap();
    first
        .create("busy", "worker", Some(json!({ "n": 41 })))
        .await
        .unwrap();
    first.schedule("busy", task(1_000)).await.unwrap();
    first.schedule("busy", task(1_000)).await.unwrap();
    first.create("sleeper", "worker", None).await.unwrap();
    first
        .sleep(
            "sleeper",
            Sleep::for_(Duration::from_secs(30)).or_event("alarm"),
        )
        .await
        .unwrap();
    first.schedule("sleeper", task(0)).await.unwrap();
    first.create("cron", "worker", None).await.unwrap();
    first
        .every(
            "cron",
            Schedule::every(Duration::from_secs(25)).unwrap(),
            TaskSpec::new("tick"),
        )
        .await
        .unwrap();
    // 10 s in, "busy" is 0.5 s into its first task: the process dies.
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.shutdown().await;
    assert!(matches!(
        first.status("busy").await,
        Err(SessionError::ShutDown)
    ));
    tokio::time::sleep(Duration::from_millis(9_500)).await;
    assert_eq!(probe.started().len(), 1);

    // The new process starts 10 s after the first did.
    let probe = Probe::new();
    let second = Agents::builder(store.clone())
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .now(t0 + Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    let snapshot = second.snapshot().await.unwrap();
    let names: Vec<&str> = snapshot.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["busy", "cron", "sleeper"]);
    let sleeper = second.status("sleeper").await.unwrap();
    assert_eq!(sleeper.state, State::Sleeping);
    assert_eq!(sleeper.wake_at_ms, Some(1_900_000_030_000));
    assert_eq!(sleeper.wakes_on, ["alarm"]);
    assert_eq!(sleeper.queued, 1);
    let busy = second.status("busy").await.unwrap();
    assert_eq!(
        (busy.state, busy.failed, busy.running, busy.queued),
        (State::Active, 1, 1, 1)
    );
    tokio::time::sleep(Duration::from_secs(21)).await;
    let starts: Vec<(String, u32, u64)> = probe
        .started()
        .into_iter()
        .map(|(agent, _, _, at)| (agent, 0, at.as_millis() as u64))
        .collect();
    // busy: its cut-off task again at once, then the next; the sleeper at its time (30 s after
    // t0, 20 s into this process); cron at 25 s after t0.
    let expected: Vec<(String, u32, u64)> = [
        ("busy", 0, 0),
        ("busy", 0, 1_000),
        ("cron", 0, 15_000),
        ("sleeper", 0, 20_000),
    ]
    .into_iter()
    .map(|(a, n, ms)| (a.to_owned(), n, ms))
    .collect();
    assert_eq!(starts, expected);
    assert_eq!(second.state("busy").await.unwrap(), json!({ "n": 43 }));
    assert_eq!(second.status("sleeper").await.unwrap().state, State::Idle);
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_sleeping_agents_each_wake_at_their_time() {
    let store = Arc::new(InMemory::new());
    let woke: Arc<Mutex<HashMap<String, Duration>>> = Arc::default();
    let origin = Instant::now();

    async fn note(
        turn: Turn<Count>,
        woke: &(Instant, Arc<Mutex<HashMap<String, Duration>>>),
    ) -> Turn<Count> {
        woke.1
            .lock()
            .unwrap()
            .insert(turn.agent.clone(), woke.0.elapsed());
        turn
    }
    let agents = Agents::builder(store)
        .kind(
            "sleeper",
            Kind::new(plan! { note }).ctx((origin, woke.clone())),
        )
        .limits(AgentLimits {
            active_agents: 10_000,
            ..AgentLimits::default()
        })
        .start()
        .await
        .unwrap();
    let n = 10_000u64;
    for i in 0..n {
        let name = format!("agent-{i}");
        agents.create(&name, "sleeper", None).await.unwrap();
        // Agent i sleeps for 1 to 997 s: 997 distinct times, several agents each.
        let secs = 1 + (i * 7919) % 997;
        agents
            .sleep(&name, Sleep::for_(Duration::from_secs(secs)))
            .await
            .unwrap();
        agents.schedule(&name, TaskSpec::new("wake")).await.unwrap();
    }
    assert_eq!(origin.elapsed(), Duration::ZERO);
    assert_eq!(
        agents.snapshot().await.unwrap().count(State::Sleeping),
        10_000
    );
    // Halfway, exactly the agents due by then have woken.
    tokio::time::sleep(Duration::from_secs(500)).await;
    // (Those due at 500 s itself wake at the same instant as this test, after it.)
    let due_by_500 = (0..n).filter(|i| 1 + (i * 7919) % 997 < 500).count();
    assert_eq!(woke.lock().unwrap().len(), due_by_500);
    tokio::time::sleep(Duration::from_secs(500)).await;
    let woke = woke.lock().unwrap().clone();
    assert_eq!(woke.len(), 10_000);
    for i in 0..n {
        let secs = 1 + (i * 7919) % 997;
        assert_eq!(
            woke[&format!("agent-{i}")],
            Duration::from_secs(secs),
            "agent-{i}"
        );
    }
    assert_eq!(agents.snapshot().await.unwrap().count(State::Idle), 10_000);
}

#[tokio::test(start_paused = true)]
async fn mail_forwarded_from_a_bus_mailbox_is_acked_once_queued_and_held_back_when_the_queue_is_full()
 {
    let probe = Probe::new();
    let limits = AgentLimits {
        queue: 2,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(InMemory::new()), &probe, limits).await;
    agents.create("ada", "worker", None).await.unwrap();
    agents
        .sleep("ada", Sleep::indefinitely().or_mail(9))
        .await
        .unwrap();
    let bus = bus::InMemory::new();
    let inbox = Name::new("inbox-ada").unwrap();
    let consumer = bus.consume(&inbox).await.unwrap();
    let forwarding = tokio::spawn({
        let agents = agents.clone();
        async move { agents.forward_mailbox(consumer, "ada").await }
    });
    for i in 0..5 {
        bus.send(
            &inbox,
            Message::json(&json!({ "ms": 100, "i": i })).unwrap(),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Asleep, the agent queues two; the third waits, unacked, in the forwarder.
    assert_eq!(agents.status("ada").await.unwrap().queued, 2);
    assert!(probe.started().is_empty());
    agents.wake("ada").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(probe.started().len(), 5);
    assert_eq!(agents.state("ada").await.unwrap(), json!({ "n": 5 }));
    assert!(bus.dead_letters(&inbox).await.unwrap().is_empty());
    // Mail that is not JSON is nacked, to the mailbox's dead letters in the end.
    bus.send(&inbox, Message::new("not json")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(bus.dead_letters(&inbox).await.unwrap().len(), 1);
    assert_eq!(probe.started().len(), 5);
    forwarding.abort();
}

fn err<T>(result: Result<T, SessionError>) -> String {
    result.map(drop).unwrap_err().to_string()
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_a_clear_error_and_changes_nothing() {
    let probe = Probe::new();
    let store = Arc::new(InMemory::new());
    let agents = start(store.clone(), &probe, AgentLimits::default()).await;
    assert_eq!(
        err(agents.create("ada", "writer", None).await),
        "there is no kind of agent `writer`; the kinds are: worker"
    );
    assert!(err(agents.create("a.b", "worker", None).await).starts_with("bad bus name `a.b`"));
    let bad_state = err(agents
        .create("ada", "worker", Some(json!({ "n": "many" })))
        .await);
    assert!(
        bad_state.starts_with("the state given for agent `ada` is not what a `worker` keeps: it is not a `session::sessions::Count`: invalid type"),
        "{bad_state}"
    );
    agents.create("ada", "worker", None).await.unwrap();
    assert_eq!(
        err(agents.create("ada", "worker", None).await),
        "there is already an agent `ada`"
    );
    assert_eq!(err(agents.status("bob").await), "there is no agent `bob`");
    assert!(
        err(agents.mail("ada", Message::new("{oops")).await)
            .starts_with("mail for agent `ada` is not JSON")
    );
    let zero = Agents::builder(store.clone())
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .limits(AgentLimits {
            active_agents: 0,
            ..AgentLimits::default()
        })
        .start()
        .await;
    assert_eq!(
        err(zero),
        "agents' limit `active_agents` must be at least 1"
    );

    // A record edited by hand stops a restart with the agent's name, and is left as it was.
    agents.shutdown().await;
    let key = Key::new("agents/ada/record").unwrap();
    store.put(&key, &json!({ "kind": "worker" })).await.unwrap();
    let restarted = Agents::builder(store.clone())
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .start()
        .await;
    let shown = err(restarted);
    assert!(
        shown.starts_with("agent `ada`'s record in the store cannot be read: missing field"),
        "{shown}"
    );
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().value,
        json!({ "kind": "worker" })
    );
    // So does a record of a kind this process does not know.
    store
        .put(&key, &json!({ "kind": "poet", "state": {}, "status": { "status": "awake" }, "tasks": [], "schedules": [], "next_task": 1 }))
        .await
        .unwrap();
    let restarted = Agents::builder(store.clone())
        .kind("worker", Kind::new(plan! { work }).ctx(probe.clone()))
        .start()
        .await;
    assert_eq!(
        err(restarted),
        "agent `ada`'s record in the store cannot be read: it is a `poet`: there is no kind of agent `poet`; the kinds are: worker"
    );
}

#[tokio::test(start_paused = true)]
async fn two_processes_on_one_store_cannot_both_write_an_agent() {
    let store = Arc::new(InMemory::new());
    let probe = Probe::new();
    let one = start(store.clone(), &probe, AgentLimits::default()).await;
    one.create("ada", "worker", None).await.unwrap();
    let two = start(store.clone(), &probe, AgentLimits::default()).await;
    two.schedule("ada", task(1)).await.unwrap();
    let err = one.schedule("ada", task(1)).await.unwrap_err();
    assert!(matches!(err, SessionError::Concurrent(_)), "{err}");
}

#[tokio::test(start_paused = true)]
async fn dropped_agents_leave_no_timer_behind() {
    let probe = Probe::new();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    agents
        .sleep("ada", Sleep::for_(Duration::from_secs(3_600)))
        .await
        .unwrap();
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    assert_eq!(tasks(), 1, "the sleeper's timer");
    drop(agents);
    tokio::task::yield_now().await;
    assert_eq!(tasks(), 0);
}
