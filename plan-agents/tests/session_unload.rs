//! Idle agents out of memory (`Builder::unload_idle_after`), on tokio's paused clock: an agent
//! idle long enough leaves memory, its record staying in the store, and comes back on its next
//! task, mail, signal or query as if it had never left; agents with work or a timer stay.

mod rigged;

use rigged::Rigged;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use plan_agents::bus::Message;
use plan_agents::session::{AgentEvent, Agents, Lease, SessionError, Sleep, State, TaskSpec, Turn};
use plan_runtime::prelude::*;
use plan_state::store::{InMemory, Store};

const IDLE: Duration = Duration::from_secs(600);

/// Counts the agent's turns in its state.
async fn count(mut turn: Turn<u64>) -> Turn<u64> {
    turn.state += 1;
    turn
}

async fn agents<S: Store + 'static>(store: Arc<S>) -> Agents<S> {
    Agents::builder(store)
        .kind("counter", plan! { count })
        .unload_idle_after(IDLE)
        .start()
        .await
        .unwrap()
}

/// The agents the events received so far say left memory, and came back.
fn moves(events: &mut tokio::sync::broadcast::Receiver<AgentEvent>) -> (Vec<String>, Vec<String>) {
    let (mut unloaded, mut loaded) = (Vec::new(), Vec::new());
    while let Ok(event) = events.try_recv() {
        match event {
            AgentEvent::Unloaded { agent } => unloaded.push(agent),
            AgentEvent::Loaded { agent } => loaded.push(agent),
            _ => {}
        }
    }
    (unloaded, loaded)
}

#[tokio::test(start_paused = true)]
async fn an_idle_agent_leaves_memory_and_its_next_task_brings_it_back_as_it_was() {
    let store = Arc::new(InMemory::new());
    let agents = agents(store.clone()).await;
    let mut events = agents.events();
    agents.create("c", "counter", None).await.unwrap();
    agents.schedule("c", TaskSpec::new("count")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let before = agents.status("c").await.unwrap();
    assert!(!before.unloaded);
    assert_eq!(before.done, 1);

    // Idle for less than the limit: still in memory.
    tokio::time::sleep(IDLE / 2).await;
    assert_eq!(moves(&mut events), (vec![], vec![]));
    // Past it (the sweep looks every half of it): out.
    tokio::time::sleep(IDLE).await;
    assert_eq!(moves(&mut events), (vec!["c".to_owned()], vec![]));
    let out = agents.status("c").await.unwrap();
    assert!(out.unloaded);
    assert_eq!((out.state, out.done, out.state_bytes), (State::Idle, 1, 1));
    // The status and the snapshot answer without reading it back.
    let snapshot = agents.snapshot().await.unwrap();
    assert_eq!(snapshot.agents.len(), 1);
    assert!(snapshot.agents[0].unloaded);
    assert_eq!(moves(&mut events), (vec![], vec![]));
    // Its record is in the store all along.
    assert_eq!(store.keys("").await.unwrap().len(), 1);

    // Its next task reads it back, and runs on its state.
    agents.schedule("c", TaskSpec::new("count")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(moves(&mut events), (vec![], vec!["c".to_owned()]));
    assert_eq!(agents.state("c").await.unwrap(), 2);
    let back = agents.status("c").await.unwrap();
    assert!(!back.unloaded);
    // What it did since the process started was kept.
    assert_eq!(back.done, 2);
}

#[tokio::test(start_paused = true)]
async fn an_agent_out_of_memory_comes_back_for_its_state_mail_a_signal_and_a_stop() {
    let agents = agents(Arc::new(InMemory::new())).await;
    let mut events = agents.events();
    for name in ["q", "m", "s", "x"] {
        agents.create(name, "counter", None).await.unwrap();
    }
    // `m` sleeps until urgent mail, `s` until an event: neither has a timer.
    agents
        .sleep("m", Sleep::indefinitely().or_mail(5))
        .await
        .unwrap();
    agents
        .sleep("s", Sleep::indefinitely().or_event("go"))
        .await
        .unwrap();
    tokio::time::sleep(IDLE * 2).await;
    let (mut unloaded, loaded) = moves(&mut events);
    unloaded.sort();
    assert_eq!(unloaded, ["m", "q", "s", "x"]);
    assert!(loaded.is_empty());
    assert_eq!(agents.status("s").await.unwrap().state, State::Sleeping);

    // A query of its state.
    assert_eq!(agents.state("q").await.unwrap(), 0);
    // Urgent mail wakes the sleeper, which runs it.
    agents
        .mail("m", Message::json(&1).unwrap().with_priority(9))
        .await
        .unwrap();
    // The event it sleeps on.
    assert_eq!(agents.signal("go").await.unwrap(), 1);
    // A stop.
    agents.stop("x").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;

    let (_, mut loaded) = moves(&mut events);
    loaded.sort();
    assert_eq!(loaded, vec!["m", "q", "s", "x"]);
    assert_eq!(agents.state("m").await.unwrap(), 1);
    assert_eq!(agents.status("s").await.unwrap().state, State::Idle);
    assert_eq!(agents.status("x").await.unwrap().state, State::Stopped);
    // A name taken by an agent out of memory is still taken.
    tokio::time::sleep(IDLE * 2).await;
    assert!(agents.status("q").await.unwrap().unloaded);
    assert!(agents.create("q", "counter", None).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn agents_with_a_timer_or_work_waiting_stay_in_memory() {
    let agents = agents(Arc::new(InMemory::new())).await;
    agents.create("timer", "counter", None).await.unwrap();
    // A wake time far away: its timer needs it.
    agents
        .sleep("timer", Sleep::for_(Duration::from_secs(100_000)))
        .await
        .unwrap();
    agents.create("queued", "counter", None).await.unwrap();
    agents
        .sleep("queued", Sleep::indefinitely().or_event("never"))
        .await
        .unwrap();
    agents
        .schedule("queued", TaskSpec::new("count"))
        .await
        .unwrap();
    tokio::time::sleep(IDLE * 3).await;
    for name in ["timer", "queued"] {
        assert!(!agents.status(name).await.unwrap().unloaded, "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_agent_out_of_memory_is_restored_after_a_restart_like_any_other() {
    let store = Arc::new(InMemory::new());
    let first = agents(store.clone()).await;
    first.create("c", "counter", None).await.unwrap();
    first.schedule("c", TaskSpec::new("count")).await.unwrap();
    tokio::time::sleep(IDLE * 2).await;
    assert!(first.status("c").await.unwrap().unloaded);
    first.shutdown().await;

    let second = agents(store).await;
    assert_eq!(second.state("c").await.unwrap(), 1);
    second.schedule("c", TaskSpec::new("count")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(second.state("c").await.unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_lists_an_agent_read_back_while_it_was_being_taken() {
    let store = Arc::new(Rigged::new());
    let agents = agents(store.clone()).await;
    for name in ["a", "b"] {
        agents.create(name, "counter", None).await.unwrap();
    }
    tokio::time::sleep(IDLE * 2).await;
    assert_eq!(agents.state("a").await.unwrap(), 0); // `a` back in memory, `b` still out
    assert!(agents.status("b").await.unwrap().unloaded);

    // A slow write holds `a` while the snapshot waits for it; meanwhile `b` is read back.
    store.delay_ms.store(1_000, Ordering::SeqCst);
    let (queued, snapshot, ()) = tokio::join!(
        agents.schedule("a", TaskSpec::new("count")),
        agents.snapshot(),
        async {
            tokio::task::yield_now().await;
            store.delay_ms.store(0, Ordering::SeqCst);
            assert_eq!(agents.state("b").await.unwrap(), 0);
        }
    );
    queued.unwrap();
    let names: Vec<String> = snapshot
        .unwrap()
        .agents
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
}

#[tokio::test(start_paused = true)]
async fn an_agent_lost_then_taken_back_and_out_of_memory_still_wakes_on_its_event() {
    const SECOND: Duration = Duration::from_secs(1);
    let store = Arc::new(Rigged::new());
    let agents = Agents::builder(store.clone())
        .kind("counter", plan! { count })
        .lease(
            Lease::new("p")
                .ttl(3 * SECOND)
                .renew_every(SECOND)
                .scan_every(SECOND),
        )
        .unload_idle_after(IDLE)
        .start()
        .await
        .unwrap();
    let mut events = agents.events();
    agents.create("a", "counter", None).await.unwrap();
    agents
        .sleep("a", Sleep::indefinitely().or_event("go"))
        .await
        .unwrap();

    // A write of `a`'s record that takes long holds it while its lease runs out; then this
    // process takes it back, and it leaves memory, before that write ends (in a conflict).
    store.delay_ms.store(4_000 * 600, Ordering::SeqCst);
    let (late, ()) = tokio::join!(agents.schedule("a", TaskSpec::new("count")), async {
        tokio::task::yield_now().await;
        store.delay_ms.store(0, Ordering::SeqCst);
        store.fail(Some("lease"));
        tokio::time::sleep(5 * SECOND).await;
        store.fail(None);
        tokio::time::sleep(IDLE * 2).await;
        let status = agents.status("a").await.unwrap();
        assert!(status.unloaded);
        assert_eq!(status.wakes_on, ["go"]);
    });
    assert!(late.is_err());
    tokio::time::sleep(SECOND).await;
    let seen: Vec<AgentEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert!(
        seen.iter()
            .any(|e| matches!(e, AgentEvent::TakenOver { agent, .. } if agent == "a")),
        "{seen:?}"
    );

    // The lost copy's clean-up, done last, must not take the agent off its event's sleepers.
    assert_eq!(agents.signal("go").await.unwrap(), 1);
    assert_eq!(agents.status("a").await.unwrap().state, State::Idle);
}

#[tokio::test(start_paused = true)]
async fn after_a_shutdown_nothing_is_read_back() {
    let agents = agents(Arc::new(InMemory::new())).await;
    let mut events = agents.events();
    agents.create("s", "counter", None).await.unwrap();
    agents
        .sleep("s", Sleep::indefinitely().or_event("go"))
        .await
        .unwrap();
    tokio::time::sleep(IDLE * 2).await;
    assert_eq!(moves(&mut events), (vec!["s".to_owned()], vec![]));
    agents.shutdown().await;

    // The event its sleeper waits on fails as every call does now, without reading it back.
    assert!(matches!(
        agents.signal("go").await,
        Err(SessionError::ShutDown)
    ));
    assert_eq!(moves(&mut events), (vec![], vec![]));
}
