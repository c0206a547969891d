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

/// The events of runs a connection asked for: all runs', or one run's.
pub(super) struct RunSubscription {
    events: broadcast::Receiver<Value>,
    run: Option<u64>,
}

impl RunSubscription {
    pub fn new(events: broadcast::Receiver<Value>, run: Option<u64>) -> Self {
        RunSubscription { events, run }
    }

    /// The next notification: `run_event` with an event of a run asked for, or `lagged` with
    /// `{"missed": N, "of": "runs"}`. `None` once the board is gone.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            match self.events.recv().await {
                Ok(event) => {
                    let wanted = self
                        .run
                        .is_none_or(|run| event["run"].as_u64() == Some(run));
                    if wanted {
                        return Some(notification("run_event", event));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let lagged = json!({ "missed": missed, "of": "runs" });
                    return Some(notification("lagged", lagged));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// A connection's subscriptions: to agents' events and to runs' events, each or both.
#[derive(Default)]
pub(super) struct Subscriptions {
    pub agents: Option<Subscription>,
    pub runs: Option<RunSubscription>,
}

impl Subscriptions {
    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.agents.is_none() && self.runs.is_none()
    }

    /// The next notification of either subscription; a subscription whose events end is
    /// dropped. Never ready while there are none.
    pub async fn next(&mut self) -> Value {
        loop {
            let (notification, of_agents) = tokio::select! {
                notification = next_of(self.agents.as_mut(), Subscription::next) => (notification, true),
                notification = next_of(self.runs.as_mut(), RunSubscription::next) => (notification, false),
            };
            match notification {
                Some(notification) => return notification,
                None if of_agents => self.agents = None,
                None => self.runs = None,
            }
        }
    }
}

/// `subscription`'s next notification; never, without one.
async fn next_of<'s, T, F>(
    subscription: Option<&'s mut T>,
    next: fn(&'s mut T) -> F,
) -> Option<Value>
where
    F: Future<Output = Option<Value>>,
{
    match subscription {
        Some(subscription) => next(subscription).await,
        None => std::future::pending().await,
    }
}
