//! The team: a planner splits a question into sub-questions, a retriever looks each up, a
//! synthesizer writes the answer once every finding is in. They talk over bus topics
//! (`questions`, `subtasks`, `findings`, `answers`) and share a blackboard in the store
//! (`blackboard/...`), beside their own records.
//!
//! How the retriever looks a sub-question up is the caller's: a plan from a [`Subtask`] to a
//! note, the retriever's `lookup` step. The `multi_agent` example's reads a small library of
//! notes; the `chaos` example, which runs this team too, asks HTTP sources that fail on
//! purpose.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use plan_agents::bus::{Bus, BusError, Message, Name, Subscription};
use plan_agents::session::{Agents, Kind, SessionError, Turn};
use plan_runtime::prelude::*;
use plan_runtime::run::Options;
use plan_state::store::{Key, Sqlite, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinHandle;

/// Any error of the team's, as it crosses tasks.
pub type BoxError = Box<dyn Error + Send + Sync>;

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
pub struct Team {
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subtask {
    /// Which of the question's sub-questions it is, from 0.
    pub index: usize,
    /// How many there are.
    pub of: usize,
    /// The sub-question.
    pub question: String,
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

/// Looks a sub-question up with `lookup`, and posts the finding; its state counts the
/// sub-questions it answered.
fn retriever<L>(lookup: L) -> impl Plan<Turn<u32>, Team, Out = Turn<u32>>
where
    L: Plan<Subtask, Team, Out = String>,
{
    plan! {
        #![name = "retriever"]
        let subtask = read_subtask;
        let note = subtask >> #[name = "lookup"] (lookup);
        let turn = count_one;
        (turn, subtask, note) >> post_finding
    }
}

fn read_subtask(turn: Turn<u32>) -> Result<Subtask, serde_json::Error> {
    serde_json::from_value(turn.task.input)
}

fn count_one(mut turn: Turn<u32>) -> Turn<u32> {
    turn.state += 1;
    turn
}

async fn post_finding(
    (turn, subtask, note): (Turn<u32>, Subtask, String),
    team: &Team,
) -> Result<Turn<u32>, Failed> {
    let finding = json!({ "question": subtask.question, "note": note });
    team.write(&format!("blackboard/findings/{}", subtask.index), &finding)
        .await?;
    team.bus
        .publish(
            "findings",
            json!({ "index": subtask.index, "of": subtask.of }),
        )
        .await?;
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

/// The team at work on a bus and a store.
pub struct Running<B: Bus> {
    /// The agents: `planner`, `retriever` and `synthesizer`.
    pub agents: Agents<Sqlite>,
    bus: B,
    answers: B::Subscription,
    forwarding: Vec<JoinHandle<Result<(), SessionError>>>,
}

/// Starts the team on `bus` and `store` (the agents' records and the blackboard), the
/// retriever looking sub-questions up with `lookup`, every turn run with `options`.
pub async fn start<B, L>(
    bus: B,
    store: Arc<Sqlite>,
    lookup: L,
    options: Options,
) -> Result<Running<B>, BoxError>
where
    B: Bus + Clone + 'static,
    L: Plan<Subtask, Team, Out = String> + Send + Sync + 'static,
{
    let team = || Team {
        bus: Arc::new(bus.clone()),
        board: store.clone(),
    };
    let planner = Kind::new(plan! { plan_it }).ctx(team());
    let retriever = Kind::new(retriever(lookup)).ctx(team());
    let synthesizer = Kind::new(plan! { synthesize }).ctx(team());
    let agents = Agents::builder(store.clone())
        .kind("planner", planner.options(options.clone()))
        .kind("retriever", retriever.options(options.clone()))
        .kind("synthesizer", synthesizer.options(options))
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
    let answers = bus.subscribe(&Name::new("answers")?).await?;
    Ok(Running {
        agents,
        bus,
        answers,
        forwarding,
    })
}

impl<B: Bus> Running<B> {
    /// Asks the team `question`: its answer, or an error if none comes `within`.
    pub async fn ask(&mut self, question: &str, within: Duration) -> Result<String, BoxError> {
        Bus::publish(
            &self.bus,
            &Name::new("questions")?,
            Message::json(&question)?,
        )
        .await?;
        let answer = tokio::time::timeout(within, self.answers.recv())
            .await
            .map_err(|_| format!("no answer within {within:?}"))??;
        Ok(answer.decode()?)
    }

    /// Stops the team: nothing more is forwarded, and the agents stop at once.
    pub async fn stop(self) {
        for task in self.forwarding {
            task.abort();
        }
        self.agents.shutdown().await;
    }
}
