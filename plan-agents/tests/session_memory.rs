//! What agents hold in memory: each agent's state size and the process's resident memory in
//! snapshots, and a limit on an agent's state that refuses a turn's save and keeps the last
//! good state.

use std::sync::Arc;

use plan_agents::session::{AgentLimits, Agents, Kind, TaskSpec, Turn};
use plan_runtime::{Cx, Describe, Plan, PlanError};
use plan_state::store::InMemory;

/// Appends the task's input (a string) to the state.
struct Grow;
impl Describe for Grow {}
impl Plan<Turn<String>> for Grow {
    type Out = Turn<String>;
    async fn call(&self, mut turn: Turn<String>, _: Cx<'_, ()>) -> Result<Turn<String>, PlanError> {
        turn.state
            .push_str(turn.task.input.as_str().unwrap_or_default());
        Ok(turn)
    }
}

async fn dead(agents: &Agents<InMemory>, agent: &str) -> Vec<String> {
    for _ in 0..600 {
        let tasks = agents.dead_tasks(agent).await.unwrap();
        if !tasks.is_empty() {
            return tasks.into_iter().map(|t| t.error).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no dead task");
}

#[tokio::test(start_paused = true)]
async fn a_state_over_the_limit_is_refused_and_the_last_good_one_kept() {
    let limits = AgentLimits {
        max_state_bytes: Some(10),
        ..AgentLimits::default()
    };
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("grower", Kind::new(Grow))
        .limits(limits)
        .start()
        .await
        .unwrap();
    agents.create("g", "grower", None).await.unwrap();
    // `"abcd"` is 6 bytes of JSON: kept. `"abcdefghij"` would be 12: refused.
    agents
        .schedule("g", TaskSpec::new("grow").input(serde_json::json!("abcd")))
        .await
        .unwrap();
    agents
        .schedule(
            "g",
            TaskSpec::new("grow").input(serde_json::json!("efghij")),
        )
        .await
        .unwrap();
    let errors = dead(&agents, "g").await;
    assert_eq!(
        errors,
        [
            "its new state is 12 bytes, over the limit of 10 (AgentLimits::max_state_bytes): the last good state is kept"
        ]
    );
    assert_eq!(agents.state("g").await.unwrap(), serde_json::json!("abcd"));

    // Snapshots tell each agent's size, and the process's resident memory.
    let snapshot = agents.snapshot().await.unwrap();
    assert_eq!(snapshot.agents[0].state_bytes, 6);
    let resident = snapshot.resident_bytes.expect("Linux tells VmRSS");
    assert!(resident > 1 << 20, "{resident}");
    agents.shutdown().await;
}
