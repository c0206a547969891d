//! [`SessionError`]s and [`AnswerError`]s as JSON-RPC errors: a code of its own for each, in
//! the range the specification leaves to applications, and a `data` object naming it (`kind`)
//! and its agent or run.

use serde_json::{Map, Value};

use super::rpc::RpcError;
use super::watch::AnswerError;
use crate::session::SessionError;

impl From<SessionError> for RpcError {
    fn from(error: SessionError) -> Self {
        use SessionError::*;
        let (code, kind, agent) = match &error {
            NoAgent(agent) => (-32001, "no_agent", Some(agent)),
            Exists(agent) => (-32002, "exists", Some(agent)),
            NoKind { .. } => (-32003, "no_kind", None),
            Stopped(agent) => (-32004, "stopped", Some(agent)),
            QueueFull { agent, .. } => (-32005, "queue_full", Some(agent)),
            BadState { agent, .. } => (-32006, "bad_state", Some(agent)),
            BadMail { agent, .. } => (-32007, "bad_mail", Some(agent)),
            Name(_) => (-32008, "bad_name", None),
            Store(_) => (-32009, "store", None),
            Concurrent(agent) => (-32010, "concurrent", Some(agent)),
            ShutDown => (-32011, "shut_down", None),
            Corrupt { agent, .. } => (-32012, "corrupt", Some(agent)),
            TooManyAgents { agent, .. } => (-32013, "too_many_agents", Some(agent)),
            KindFull { agent, .. } => (-32014, "kind_full", Some(agent)),
            TooFrequent { agent, .. } => (-32015, "too_frequent", Some(agent)),
            TooManySchedules { agent, .. } => (-32016, "too_many_schedules", Some(agent)),
            NameTooLong { .. } => (-32017, "name_too_long", None),
            Owned { agent, .. } => (-32018, "owned", Some(agent)),
            Lost(agent) => (-32019, "lost", Some(agent)),
            // Those the control API cannot cause (a limit, a schedule it has checked), and any
            // added later: an error all the same, under the range's first code.
            _ => (-32000, "session", None),
        };
        let mut data = Map::new();
        data.insert("kind".to_owned(), kind.into());
        if let Some(agent) = agent {
            data.insert("agent".to_owned(), agent.as_str().into());
        }
        RpcError {
            code,
            message: error.to_string(),
            data: Some(Value::Object(data)),
        }
    }
}

impl From<AnswerError> for RpcError {
    fn from(error: AnswerError) -> Self {
        let (code, kind, run) = match &error {
            AnswerError::NoRun(run) => (-32030, "no_run", *run),
            AnswerError::NoQuestion(run) => (-32031, "no_question", *run),
            AnswerError::Bad { run, .. } => (-32032, "bad_answer", *run),
        };
        RpcError {
            code,
            message: error.to_string(),
            data: Some(serde_json::json!({ "kind": kind, "run": run })),
        }
    }
}
