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
//!
//! With `--lease OWNER`, several processes share the store, each agent owned by one of them
//! at a time (leases of 3 s): run two, each with its own owner, and kill the one that owns
//! the agents; the other takes them over within about four seconds, printing `took over AGENT
//! from OWNER`, and carries on. Each prints `OWNER owns N agents` once started.
//!
//! ```text
//! cargo run -p plan-agents --example agents_restart -- --store /tmp/agents.db --effects /tmp/effects --lease one
//! cargo run -p plan-agents --example agents_restart -- --store /tmp/agents.db --effects /tmp/effects --lease two
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use plan_agents::schedule::Schedule;
use plan_agents::session::{
    AgentEvent, AgentStatus, Agents, Kind, Lease, SessionError, Sleep, TaskSpec, Turn,
};
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
    let (store, effects, owner) = match args.as_slice() {
        [s, store, e, effects, rest @ ..] if s == "--store" && e == "--effects" => {
            let owner = match rest {
                [] => None,
                [l, owner] if l == "--lease" => Some(owner.clone()),
                _ => return usage(),
            };
            (PathBuf::from(store), PathBuf::from(effects), owner)
        }
        _ => return usage(),
    };
    match run(store, effects, owner).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agents_restart: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: agents_restart --store PATH --effects FILE [--lease OWNER]");
    ExitCode::from(64)
}

/// Whether `created` made the agent: not if it was there already, restored from the store
/// or owned by another process.
fn made(created: Result<AgentStatus, SessionError>) -> Result<bool, SessionError> {
    match created {
        Ok(_) => Ok(true),
        Err(SessionError::Exists(_) | SessionError::Owned { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn run(
    store: PathBuf,
    effects: PathBuf,
    owner: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(Sqlite::open(&store).await?);
    let mut builder =
        Agents::builder(store).kind("worker", Kind::new(plan! { work }).ctx(Effects(effects)));
    if let Some(owner) = &owner {
        builder = builder.lease(Lease::new(owner).ttl(Duration::from_secs(3)));
    }
    // `start` restores whatever a killed run left in the store (with a lease, what no other
    // process owns).
    let agents = builder.start().await?;
    if let Some(owner) = &owner {
        let owns = agents.snapshot().await?.agents.len();
        println!("{owner} owns {owns} agents");
        let mut events = agents.events();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let AgentEvent::TakenOver { agent, from } = event {
                    println!(
                        "took over {agent} from {}",
                        from.as_deref().unwrap_or("nobody")
                    );
                }
            }
        });
    }
    if made(agents.create("worker", "worker", None).await)? {
        for job in 1..=6 {
            let job = TaskSpec::new(format!("job-{job}")).input(serde_json::json!({ "ms": 300 }));
            agents.schedule("worker", job).await?;
        }
    }
    if made(agents.create("sleeper", "worker", None).await)? {
        agents
            .sleep("sleeper", Sleep::for_(Duration::from_millis(2_500)))
            .await?;
        agents.schedule("sleeper", TaskSpec::new("wake-up")).await?;
        let wakes_at = agents
            .status("sleeper")
            .await?
            .wake_at_ms
            .unwrap_or_default();
        println!("sleeper wakes at {wakes_at}");
    }
    if made(agents.create("ticker", "worker", None).await)? {
        let every_second = Schedule::every(Duration::from_secs(1))?;
        agents
            .every("ticker", every_second, TaskSpec::new("tick"))
            .await?;
    }
    // Done once this process has each agent, idle, with its count of tasks done.
    let done = |name: &'static str, at_least: u64| {
        let agents = agents.clone();
        async move {
            let n = match agents.state(name).await {
                Ok(state) => state.as_u64().unwrap_or(0),
                Err(SessionError::Owned { .. } | SessionError::Lost(_)) => return Ok(false),
                Err(e) => return Err(e),
            };
            let idle = agents.status(name).await?.running == 0;
            Ok::<_, SessionError>(n >= at_least && idle)
        }
    };
    while !(done("worker", 6).await? && done("sleeper", 1).await? && done("ticker", 3).await?) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agents.shutdown().await;
    println!("done");
    Ok(())
}
