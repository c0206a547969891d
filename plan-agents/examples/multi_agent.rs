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

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use plan_agents::bus::{Bus, BusError, InMemory, Message, Name, Nats, Subscription};
use plan_agents::session::{Agents, Kind, State, Turn};
use plan_runtime::prelude::*;
use plan_state::store::{Key, Sqlite, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Publishing, whichever bus it is: the agents' plans need nothing else of it.
trait Publish: Send + Sync {
    fn publish(&self, topic: &str, value: serde_json::Value)
    -> BoxFuture<'_, Result<(), BusError>>;
}

impl<B: Bus> Publish for B {
    fn publish(
        &self,
        topic: &str,
        value: serde_json::Value,
    ) -> BoxFuture<'_, Result<(), BusError>> {
        let topic = Name::new(topic);
        Box::pin(async move { Bus::publish(self, &topic?, Message::json(&value)?).await })
    }
}

/// What every agent's plan gets: the bus and the blackboard.
struct Team {
    bus: Arc<dyn Publish>,
    board: Arc<Sqlite>,
}

/// Why a turn failed.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a message of the wrong shape: {0}")]
    Shape(#[from] serde_json::Error),
}

impl Team {
    async fn write(&self, key: &str, value: &serde_json::Value) -> Result<(), Failed> {
        self.board.put(&Key::new(key)?, value).await?;
        Ok(())
    }
}

/// A sub-question, as the planner posts it.
#[derive(Serialize, Deserialize)]
struct Subtask {
    index: usize,
    of: usize,
    question: String,
}

/// Splits the question into the aspects it should cover.
async fn plan_it(mut turn: Turn<()>, team: &Team) -> Result<Turn<()>, Failed> {
    let question: String = serde_json::from_value(turn.task.input.clone())?;
    let aspects = ["what it is", "how it works", "what it costs"];
    let subtasks: Vec<String> = aspects.iter().map(|a| format!("{question}: {a}")).collect();
    team.write(
        "blackboard/plan",
        &json!({ "question": question, "subtasks": subtasks }),
    )
    .await?;
    for (index, question) in subtasks.iter().enumerate() {
        let subtask = Subtask {
            index,
            of: subtasks.len(),
            question: question.clone(),
        };
        team.bus
            .publish("subtasks", serde_json::to_value(subtask)?)
            .await?;
    }
    turn.output = json!({ "subtasks": subtasks.len() });
    Ok(turn)
}

/// Looks a sub-question up in a small library of notes.
async fn retrieve(mut turn: Turn<u32>, team: &Team) -> Result<Turn<u32>, Failed> {
    let subtask: Subtask = serde_json::from_value(turn.task.input.clone())?;
    let notes = [
        "a durable run keeps every node's output in a store",
        "a restarted run replays the outputs and runs the rest",
        "a journaled step costs one store write",
    ];
    let finding =
        json!({ "question": subtask.question, "note": notes[subtask.index % notes.len()] });
    team.write(&format!("blackboard/findings/{}", subtask.index), &finding)
        .await?;
    team.bus
        .publish(
            "findings",
            json!({ "index": subtask.index, "of": subtask.of }),
        )
        .await?;
    turn.state += 1;
    Ok(turn)
}

/// What the synthesizer keeps: the findings it has heard of.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Heard {
    findings: Vec<usize>,
}

/// Once every finding is in, writes the answer from the blackboard.
async fn synthesize(mut turn: Turn<Heard>, team: &Team) -> Result<Turn<Heard>, Failed> {
    let index = turn.task.input["index"].as_u64().unwrap_or_default() as usize;
    let of = turn.task.input["of"].as_u64().unwrap_or_default() as usize;
    if !turn.state.findings.contains(&index) {
        turn.state.findings.push(index);
    }
    if turn.state.findings.len() < of {
        return Ok(turn);
    }
    let mut notes = Vec::new();
    for i in 0..of {
        let key = Key::new(format!("blackboard/findings/{i}"))?;
        if let Some(finding) = team.board.get(&key).await? {
            notes.push(
                finding.value["note"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    let answer = format!("{}.", notes.join("; "));
    team.write("blackboard/answer", &json!(answer)).await?;
    team.bus.publish("answers", json!(answer)).await?;
    turn.output = json!(answer);
    turn.state.findings.clear();
    Ok(turn)
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

async fn run<B: Bus + Clone + 'static>(bus: B) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("plan-multi-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(Sqlite::open(dir.join("agents.db")).await?);
    let team = || Team {
        bus: Arc::new(bus.clone()),
        board: store.clone(),
    };
    let agents = Agents::builder(store.clone())
        .kind("planner", Kind::new(plan! { plan_it }).ctx(team()))
        .kind("retriever", Kind::new(plan! { retrieve }).ctx(team()))
        .kind("synthesizer", Kind::new(plan! { synthesize }).ctx(team()))
        .start()
        .await?;
    // Each agent hears one topic: its messages reach it as mail.
    let mut forwarding = Vec::new();
    for (agent, topic) in [
        ("planner", "questions"),
        ("retriever", "subtasks"),
        ("synthesizer", "findings"),
    ] {
        agents.create(agent, agent, None).await?;
        let subscription = bus.subscribe(&Name::new(topic)?).await?;
        let agents = agents.clone();
        forwarding.push(tokio::spawn(async move {
            agents.forward_topic(subscription, agent).await
        }));
    }
    let mut answers = bus.subscribe(&Name::new("answers")?).await?;
    let question = "durable agent runs";
    println!("question: {question}");
    Bus::publish(&bus, &Name::new("questions")?, Message::json(&question)?).await?;
    let answer: String = tokio::time::timeout(Duration::from_secs(30), answers.recv())
        .await
        .map_err(|_| "no answer within 30 s")??
        .decode()?;

    println!("blackboard:");
    for key in store.keys("blackboard/").await? {
        if let Some(value) = store.get(&key).await? {
            println!("  {key} = {}", value.value);
        }
    }
    // The synthesizer published the answer from inside its turn: let that turn finish.
    while agents.status("synthesizer").await?.state != State::Idle {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let snapshot = agents.snapshot().await?;
    for agent in &snapshot.agents {
        println!(
            "agent {}: {} tasks done, {}",
            agent.name, agent.done, agent.state
        );
    }
    println!("answer: {answer}");
    for task in forwarding {
        task.abort();
    }
    agents.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
