//! Three agents answer a question together: a planner splits it into sub-questions, a
//! retriever looks each up, a synthesizer writes the answer once every finding is in. They
//! talk over bus topics (`questions`, `subtasks`, `findings`, `answers`) and share a
//! blackboard in the store (`blackboard/...`), beside their own records.
//!
//! ```text
//! cargo run -p plan-agents --example multi_agent                                # the bus in process
//! cargo run -p plan-agents --example multi_agent -- --bus nats://127.0.0.1:4222 # every message through NATS
//! ```
//!
//! The store is SQLite in a temporary directory. The example prints the blackboard and the
//! answer, and exits 0; with `--bus` and no NATS server there, it exits 2 saying so.
//!
//! `team.rs` holds the team, which the `chaos` example runs too; here the retriever looks
//! sub-questions up in a small library of notes.

mod team;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use plan_agents::bus::{Bus, InMemory, Nats};
use plan_agents::session::State;
use plan_runtime::prelude::*;
use plan_runtime::run::Options;
use plan_state::store::{Sqlite, Store};

use team::Subtask;

/// The retriever's library: a note per sub-question.
fn note(subtask: Subtask) -> String {
    let notes = [
        "a durable run keeps every node's output in a store",
        "a restarted run replays the outputs and runs the rest",
        "a journaled step costs one store write",
    ];
    notes[subtask.index % notes.len()].to_owned()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bus = match args.as_slice() {
        [] => None,
        [flag, url] if flag == "--bus" => Some(url.clone()),
        _ => {
            eprintln!("usage: multi_agent [--bus nats://HOST:PORT]");
            return ExitCode::from(64);
        }
    };
    let outcome = match bus {
        None => run(InMemory::new()).await,
        Some(url) => match Nats::connect(&url).await {
            Ok(nats) => run(nats).await,
            Err(e) => {
                eprintln!("multi_agent: cannot use the NATS server at {url}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("multi_agent: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run<B: Bus + Clone + 'static>(bus: B) -> Result<(), team::BoxError> {
    let dir = std::env::temp_dir().join(format!("plan-multi-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(Sqlite::open(dir.join("agents.db")).await?);
    let lookup = plan! { note };
    let mut team = team::start(bus, store.clone(), lookup, Options::new()).await?;
    let question = "durable agent runs";
    println!("question: {question}");
    let answer = team.ask(question, Duration::from_secs(30)).await?;

    println!("blackboard:");
    for key in store.keys("blackboard/").await? {
        if let Some(value) = store.get(&key).await? {
            println!("  {key} = {}", value.value);
        }
    }
    // The synthesizer published the answer from inside its turn: let that turn finish.
    while team.agents.status("synthesizer").await?.state != State::Idle {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let snapshot = team.agents.snapshot().await?;
    for agent in &snapshot.agents {
        println!(
            "agent {}: {} tasks done, {}",
            agent.name, agent.done, agent.state
        );
    }
    println!("answer: {answer}");
    team.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
