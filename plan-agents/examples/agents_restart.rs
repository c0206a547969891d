//! Agents that survive `kill -9`: a worker with six jobs of 300 ms queued, a sleeper that
//! sleeps 2.5 s and then has one task to do, and a ticker with a task every second. Their
//! records are in SQLite; kill the process at any moment and run it again with the same
//! arguments, and each agent carries on where the store says it was: the queue as it was, the
//! job the kill cut off run again (its next attempt), the sleeper woken at its first wake time.
//!
//! ```text
//! cargo run -p plan-agents --example agents_restart -- --store /tmp/agents.db --effects /tmp/effects
//! ```
//!
//! Every task appends `start AGENT TASK attempt N at MS` to the effects file as it starts and
//! `end ...` as it ends (MS: wall-clock milliseconds since the Unix epoch). The first run
//! prints `sleeper wakes at MS`. The process exits, code 0, once the worker has done six jobs,
//! the sleeper one task and the ticker three, printing `done`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use plan_agents::schedule::Schedule;
use plan_agents::session::{Agents, Kind, Sleep, TaskSpec, Turn};
use plan_runtime::prelude::*;
use plan_state::store::Sqlite;

/// The file each task appends to.
struct Effects(PathBuf);

impl Effects {
    fn append(&self, line: &str) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)?;
        // One `write` of a whole line: a kill leaves whole lines only.
        file.write_all(format!("{line}\n").as_bytes())
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// A task: takes the milliseconds its input says, between its two lines. The state counts the
/// tasks done.
async fn work(mut turn: Turn<u32>, effects: &Effects) -> std::io::Result<Turn<u32>> {
    let what = format!(
        "{} {} attempt {}",
        turn.agent, turn.task.name, turn.task.attempt
    );
    effects.append(&format!("start {what} at {}", now_ms()))?;
    let ms = turn.task.input["ms"].as_u64().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    effects.append(&format!("end {what} at {}", now_ms()))?;
    turn.state += 1;
    Ok(turn)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (store, effects) = match args.as_slice() {
        [s, store, e, effects] if s == "--store" && e == "--effects" => {
            (PathBuf::from(store), PathBuf::from(effects))
        }
        _ => {
            eprintln!("usage: agents_restart --store PATH --effects FILE");
            return ExitCode::from(64);
        }
    };
    match run(store, effects).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agents_restart: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(store: PathBuf, effects: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(Sqlite::open(&store).await?);
    // `start` restores whatever a killed run left in the store.
    let agents = Agents::builder(store)
        .kind("worker", Kind::new(plan! { work }).ctx(Effects(effects)))
        .start()
        .await?;
    if agents.snapshot().await?.agents.is_empty() {
        agents.create("worker", "worker", None).await?;
        agents.create("sleeper", "worker", None).await?;
        agents.create("ticker", "worker", None).await?;
        for job in 1..=6 {
            let job = TaskSpec::new(format!("job-{job}")).input(serde_json::json!({ "ms": 300 }));
            agents.schedule("worker", job).await?;
        }
        agents
            .sleep("sleeper", Sleep::for_(Duration::from_millis(2_500)))
            .await?;
        agents.schedule("sleeper", TaskSpec::new("wake-up")).await?;
        let every_second = Schedule::every(Duration::from_secs(1))?;
        agents
            .every("ticker", every_second, TaskSpec::new("tick"))
            .await?;
        let wakes_at = agents
            .status("sleeper")
            .await?
            .wake_at_ms
            .unwrap_or_default();
        println!("sleeper wakes at {wakes_at}");
    }
    let done = |name: &'static str, at_least: u64| {
        let agents = agents.clone();
        async move {
            let n = agents.state(name).await?.as_u64().unwrap_or(0);
            let idle = agents.status(name).await?.running == 0;
            Ok::<_, plan_agents::session::SessionError>(n >= at_least && idle)
        }
    };
    while !(done("worker", 6).await? && done("sleeper", 1).await? && done("ticker", 3).await?) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agents.shutdown().await;
    println!("done");
    Ok(())
}
