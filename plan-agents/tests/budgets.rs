//! A budget shared by every run a reactive loop or an agent kind starts, given in its
//! `Options`: the events, or the turns, spend from one budget, and the run that would pass
//! it fails with the budget's error.

use std::sync::Arc;
use std::time::Duration;

use futures::stream;
use plan_agents::bus::{Message, Name};
use plan_agents::reactive::Reactive;
use plan_agents::session::{Agents, Kind, TaskSpec, Turn};
use plan_runtime::budget::{Budget, Charge};
use plan_runtime::prelude::*;
use plan_runtime::run::Options;
use plan_runtime::{Cx, NodeRef};
use plan_state::store::InMemory;

/// Spends one request of the run's budget.
fn spend<C>(cx: &Cx<'_, C>) -> Result<(), PlanError> {
    let budget = cx.extension::<Budget>().expect("the run carries a budget");
    let call = budget
        .admit(&Charge::request())
        .map_err(|e| PlanError::step(NodeRef::current(cx), e))?;
    call.settle(&Charge::request());
    Ok(())
}

struct Handle;
impl Describe for Handle {}
impl Plan<u32> for Handle {
    type Out = u32;
    async fn call(&self, event: u32, cx: Cx<'_, ()>) -> Result<u32, PlanError> {
        spend(&cx)?;
        Ok(event * 2)
    }
}

struct Work;
impl Describe for Work {}
impl Plan<Turn<u32>> for Work {
    type Out = Turn<u32>;
    async fn call(&self, mut turn: Turn<u32>, cx: Cx<'_, ()>) -> Result<Turn<u32>, PlanError> {
        spend(&cx)?;
        turn.state += 1;
        Ok(turn)
    }
}

#[tokio::test]
async fn the_events_of_a_reactive_loop_share_one_budget() {
    let budget = Arc::new(Budget::new().requests(2));
    let reactor = Reactive::new(Name::new("spender").unwrap(), plan! { (Handle) })
        .options(Options::new().shared(Arc::clone(&budget)));
    let events = stream::iter((1..=3u32).map(|n| Message::json(&n).unwrap()));
    let summary = reactor.watch(events).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (2, 1));
    assert_eq!(budget.spent().requests, 2);
}

#[tokio::test(start_paused = true)]
async fn the_turns_of_an_agent_kind_share_one_budget() {
    let budget = Arc::new(Budget::new().requests(2));
    let kind = Kind::new(plan! { (Work) }).options(Options::new().shared(Arc::clone(&budget)));
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("worker", kind)
        .start()
        .await
        .unwrap();
    agents.create("w", "worker", None).await.unwrap();
    for _ in 0..3 {
        agents.schedule("w", TaskSpec::new("work")).await.unwrap();
    }
    // The third task fails on the budget (and keeps failing, retried): wait for its error.
    let mut status = agents.status("w").await.unwrap();
    for _ in 0..600 {
        if status.last_error.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = agents.status("w").await.unwrap();
    }
    let error = status.last_error.clone().expect("the third turn failed");
    assert!(error.contains("budget of 2 requests is spent"), "{error}");
    assert_eq!(agents.state("w").await.unwrap(), serde_json::json!(2));
    assert_eq!(budget.spent().requests, 2);
    agents.shutdown().await;
}

/// Polls (on the paused clock) until `agent`'s state is `want`, or its last error is set
/// when `want` is `None`; returns its last error.
async fn settle(agents: &Agents<InMemory>, agent: &str, want: Option<u32>) -> Option<String> {
    for _ in 0..600 {
        let status = agents.status(agent).await.unwrap();
        let state = agents.state(agent).await.unwrap();
        match want {
            Some(want) if state == serde_json::json!(want) => return status.last_error,
            None if status.last_error.is_some() => return status.last_error,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("{agent} did not settle at {want:?}");
}

#[tokio::test(start_paused = true)]
async fn each_agent_has_its_own_budget_and_a_restart_does_not_refill_it() {
    const HOUR: Duration = Duration::from_secs(3600);
    let store = Arc::new(InMemory::new());
    let start = || async {
        let kind = Kind::new(plan! { (Work) }).budget(|| Budget::new().requests(2).period(HOUR));
        Agents::builder(Arc::clone(&store))
            .kind("worker", kind)
            .start()
            .await
            .unwrap()
    };
    let agents = start().await;
    agents.create("a", "worker", None).await.unwrap();
    agents.create("b", "worker", None).await.unwrap();
    for _ in 0..2 {
        agents.schedule("a", TaskSpec::new("work")).await.unwrap();
    }
    agents.schedule("b", TaskSpec::new("work")).await.unwrap();
    // Each spends from its own budget of two.
    assert_eq!(settle(&agents, "a", Some(2)).await, None);
    assert_eq!(settle(&agents, "b", Some(1)).await, None);
    agents.shutdown().await;

    // Restarted on the same store: `a`'s budget is as spent as it was, `b` has one left.
    let agents = start().await;
    agents.schedule("a", TaskSpec::new("work")).await.unwrap();
    agents.schedule("b", TaskSpec::new("work")).await.unwrap();
    assert_eq!(settle(&agents, "b", Some(2)).await, None);
    let error = settle(&agents, "a", None).await.unwrap();
    assert!(error.contains("budget of 2 requests is spent"), "{error}");
    assert_eq!(agents.state("a").await.unwrap(), serde_json::json!(2));

    // A new period: `a`'s task, retried, goes through.
    tokio::time::sleep(HOUR).await;
    agents.replay_dead_tasks("a").await.unwrap();
    settle(&agents, "a", Some(3)).await;
    agents.shutdown().await;
}
