//! A connection's subscription to [`AgentEvent`]s, which it gets as notifications.

use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};

use super::rpc::notification;
use crate::session::AgentEvent;

/// The events a connection asked for: all, or one agent's.
pub(super) struct Subscription {
    events: broadcast::Receiver<AgentEvent>,
    agent: Option<String>,
}

impl Subscription {
    pub fn new(events: broadcast::Receiver<AgentEvent>, agent: Option<String>) -> Self {
        Subscription { events, agent }
    }

    /// The next notification: `event` with an event asked for as its params, or `lagged` with
    /// `{"missed": N}` when the connection fell so far behind (the events' channel holds
    /// 1,024) that N events were lost. `None` once the agents are gone.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            match self.events.recv().await {
                Ok(event) => {
                    // Every event is an object with its agent; one that did not serialize
                    // could not be sent anyway.
                    let Ok(event) = serde_json::to_value(&event) else {
                        continue;
                    };
                    let wanted = match &self.agent {
                        Some(agent) => event["agent"].as_str() == Some(agent.as_str()),
                        None => true,
                    };
                    if wanted {
                        return Some(notification("event", event));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    return Some(notification("lagged", json!({ "missed": missed })));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
