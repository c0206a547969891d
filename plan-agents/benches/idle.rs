//! Memory per idle agent, in memory and unloaded (`Builder::unload_idle_after`): `idle
//! <variant> <n>` creates `n` agents over an SQLite file, each with a state of 1 KiB of JSON and
//! one turn run, lets them go idle, and prints one JSON line with the heap's live bytes per
//! agent: what the process holds for each, its SQLite page cache counted, counted by dhat's
//! allocator (the resident set size would keep what the allocator freed but did not return).
//!
//! `cargo bench -p plan-agents --bench idle -- loaded 10000`; variants: `loaded` (idle agents
//! left in memory) and `unloaded` (the same, unloaded after a second idle). `bench/run` runs
//! each in its own process.

use std::sync::Arc;
use std::time::Duration;

use plan_agents::session::{AgentLimits, Agents, TaskSpec, Turn};
use plan_runtime::prelude::*;
use plan_state::store::Sqlite;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A turn that changes the state, as a real one would (so the agent has a version, a budget
/// of counters, a last run).
async fn note(mut turn: Turn<serde_json::Value>) -> Turn<serde_json::Value> {
    turn.state["turns"] = serde_json::json!(1);
    turn
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (variant, n) = match args.as_slice() {
        [variant, n] if variant == "loaded" || variant == "unloaded" => (
            variant.clone(),
            n.parse::<usize>().expect("a number of agents"),
        ),
        _ => {
            eprintln!("usage: idle loaded|unloaded N");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("plan-agents-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profiler = dhat::Profiler::builder().testing().build();
    let per_agent = rt.block_on(async {
        let store = Sqlite::open(dir.join("agents.db")).await.unwrap();
        let before = dhat::HeapStats::get().curr_bytes;
        let mut builder = Agents::builder(Arc::new(store))
            .kind("noter", plan! { note })
            .limits(AgentLimits {
                agents: n.max(1),
                ..AgentLimits::default()
            });
        if variant == "unloaded" {
            builder = builder.unload_idle_after(Duration::from_secs(1));
        }
        let agents = builder.start().await.unwrap();
        let state = serde_json::json!({ "notes": "n".repeat(1_000) });
        for i in 0..n {
            let name = format!("agent-{i}");
            agents
                .create(&name, "noter", Some(state.clone()))
                .await
                .unwrap();
            agents.schedule(&name, TaskSpec::new("note")).await.unwrap();
        }
        // Every turn run, and (`unloaded`) every agent idle past a second and swept.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let snapshot = agents.snapshot().await.unwrap();
        let out = snapshot.agents.iter().filter(|a| a.unloaded).count();
        assert_eq!(snapshot.agents.len(), n);
        assert_eq!(out, if variant == "unloaded" { n } else { 0 });
        drop(snapshot);
        let after = dhat::HeapStats::get().curr_bytes;
        drop(agents);
        after.saturating_sub(before) as f64 / n as f64
    });
    drop(profiler);
    println!(r#"{{"variant": "{variant}", "n": {n}, "heap_bytes_per_agent": {per_agent:.0}}}"#);
    let _ = std::fs::remove_dir_all(&dir);
}
