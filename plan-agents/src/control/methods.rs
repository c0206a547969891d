//! The methods: each reads its params (by name) and calls [`Agents`] or the [`RunBoard`].

use std::time::Duration;

use plan_state::store::Store;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::board::RunBoard;
use super::rpc::{METHOD_NOT_FOUND, RpcError};
use super::subscription::{RunSubscription, Subscription, Subscriptions};
use super::watch::AnswerError;
use crate::bus::Message;
use crate::echo;
use crate::schedule::Schedule;
use crate::session::{Agents, Sleep, TaskSpec};

/// What the methods act on: the agents, and the runs on the board.
pub(super) struct Api<S> {
    pub agents: Agents<S>,
    pub runs: RunBoard,
}

impl<S> Clone for Api<S> {
    fn clone(&self) -> Self {
        Api {
            agents: self.agents.clone(),
            runs: self.runs.clone(),
        }
    }
}

/// Every method, for the error that names an unknown one.
pub(super) const METHODS: [&str; 20] = [
    "create",
    "schedule",
    "mail",
    "sleep",
    "wake",
    "signal",
    "every",
    "stop",
    "status",
    "state",
    "list",
    "dead_tasks",
    "replay_dead_tasks",
    "subscribe",
    "unsubscribe",
    "runs",
    "run",
    "answer",
    "subscribe_runs",
    "unsubscribe_runs",
];

/// Runs `method` on `api`; `subscriptions` are the connection's, for `subscribe`,
/// `subscribe_runs` and their opposites.
pub(super) async fn call<S: Store + 'static>(
    api: &Api<S>,
    subscriptions: &mut Subscriptions,
    method: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let agents = &api.agents;
    match method {
        "create" => {
            let p: Create = read(method, params)?;
            result(agents.create(&p.name, &p.kind, p.state).await?)
        }
        "schedule" => {
            let p: Task = read(method, params)?;
            let mut task = TaskSpec::new(p.task).input(p.input).priority(p.priority);
            task.ttl_ms = p.ttl_ms;
            let id = agents.schedule(&p.agent, task).await?;
            Ok(json!({ "id": id }))
        }
        "mail" => {
            let p: Mail = read(method, params)?;
            // A JSON value always encodes; the error is there for the type's sake.
            let message = Message::json(&p.message)
                .map_err(RpcError::internal)?
                .with_priority(p.priority);
            let id = agents.mail(&p.agent, message).await?;
            Ok(json!({ "id": id }))
        }
        "sleep" => {
            let p: Nap = read(method, params)?;
            let sleep = Sleep {
                duration: p.for_ms.map(Duration::from_millis),
                until_ms: p.until_ms,
                events: p.events,
                mail: p.mail,
                room: p.room,
            };
            agents.sleep(&p.agent, sleep).await?;
            result(agents.status(&p.agent).await?)
        }
        "wake" => {
            let p: Agent = read(method, params)?;
            Ok(json!({ "woke": agents.wake(&p.agent).await? }))
        }
        "signal" => {
            let p: Signal = read(method, params)?;
            Ok(json!({ "woken": agents.signal(&p.event).await? }))
        }
        "every" => {
            let p: Every = read(method, params)?;
            let schedule = match (p.every_ms, &p.cron) {
                (Some(ms), None) => Schedule::every(Duration::from_millis(ms)),
                (None, Some(pattern)) => Schedule::cron(pattern),
                _ => {
                    let why = "give one of `every_ms` and `cron`";
                    return Err(RpcError::invalid_params(method, why));
                }
            }
            .map_err(|e| RpcError::invalid_params(method, e))?;
            let task = TaskSpec::new(p.task).input(p.input).priority(p.priority);
            let next = agents.every(&p.agent, schedule, task).await?;
            Ok(json!({ "next_at_ms": next }))
        }
        "stop" => {
            let p: Agent = read(method, params)?;
            agents.stop(&p.agent).await?;
            result(agents.status(&p.agent).await?)
        }
        "status" => {
            let p: Agent = read(method, params)?;
            result(agents.status(&p.agent).await?)
        }
        "state" => {
            let p: Agent = read(method, params)?;
            Ok(agents.state(&p.agent).await?)
        }
        "list" => {
            read::<Nothing>(method, params)?;
            result(agents.snapshot().await?)
        }
        "dead_tasks" => {
            let p: Agent = read(method, params)?;
            result(agents.dead_tasks(&p.agent).await?)
        }
        "replay_dead_tasks" => {
            let p: Agent = read(method, params)?;
            let replayed = agents.replay_dead_tasks(&p.agent).await?;
            Ok(json!({ "replayed": replayed }))
        }
        "subscribe" => {
            let p: Subscribe = read(method, params)?;
            subscriptions.agents = Some(Subscription::new(agents.events(), p.agent));
            Ok(json!({ "subscribed": true }))
        }
        "unsubscribe" => {
            read::<Nothing>(method, params)?;
            Ok(json!({ "unsubscribed": subscriptions.agents.take().is_some() }))
        }
        "runs" => {
            read::<Nothing>(method, params)?;
            Ok(json!({ "runs": api.runs.list() }))
        }
        "run" => {
            let p: Run = read(method, params)?;
            let run = api.runs.get(p.run).ok_or(AnswerError::NoRun(p.run))?;
            Ok(run.detail())
        }
        "answer" => {
            let p: Answer = read(method, params)?;
            api.runs.answer(p.run, p.answer)?;
            Ok(json!({ "answered": true }))
        }
        "subscribe_runs" => {
            let p: SubscribeRuns = read(method, params)?;
            subscriptions.runs = Some(RunSubscription::new(api.runs.events(), p.run));
            Ok(json!({ "subscribed": true }))
        }
        "unsubscribe_runs" => {
            read::<Nothing>(method, params)?;
            Ok(json!({ "unsubscribed": subscriptions.runs.take().is_some() }))
        }
        _ => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format_args!(
                "there is no method `{}`; the methods are: {}",
                echo::name(method),
                METHODS.join(", ")
            ),
        )),
    }
}

/// `method`'s params, by name; none at all are read as `{}`. An error names the field that is
/// wrong and how, as serde says it.
fn read<P: DeserializeOwned>(method: &str, params: Option<Value>) -> Result<P, RpcError> {
    let params = match params {
        None => Value::Object(Default::default()),
        Some(Value::Array(_)) => {
            let why = "params are by name, in an object, not by position";
            return Err(RpcError::invalid_params(method, why));
        }
        Some(params) => params,
    };
    serde_path_to_error::deserialize(params).map_err(|e| {
        let field = e.path().to_string();
        match field.as_str() {
            "." => RpcError::invalid_params(method, e.inner()),
            _ => RpcError::invalid_params(method, format_args!("`{field}`: {}", e.inner())),
        }
    })
}

/// A method's result as JSON; the types given here always convert.
fn result<T: Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(RpcError::internal)
}

/// Any JSON value, but present: serde would read a missing `Value` field as null.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Value::deserialize(d)
}

// Unknown fields are refused, so that a misspelt optional one (`priorty`) is not ignored.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Agent {
    agent: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    name: String,
    kind: String,
    state: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Task {
    agent: String,
    task: String,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    priority: u8,
    ttl_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mail {
    agent: String,
    #[serde(deserialize_with = "present")]
    message: Value,
    #[serde(default)]
    priority: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nap {
    agent: String,
    for_ms: Option<u64>,
    until_ms: Option<u64>,
    #[serde(default)]
    events: Vec<String>,
    mail: Option<u8>,
    room: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Signal {
    event: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Every {
    agent: String,
    every_ms: Option<u64>,
    cron: Option<String>,
    task: String,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    priority: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    agent: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Run {
    run: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    run: u64,
    #[serde(deserialize_with = "present")]
    answer: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeRuns {
    run: Option<u64>,
}
