//! Progress events: what a [`Recorder`](super::Recorder) made with
//! [`Recorder::with_events`](super::Recorder::with_events) streams while a plan runs.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::channel::mpsc;
use plan_core::{Label, NodeKind};
use serde::Serialize;

use super::record::Outcome;

/// Something that happened to one node instance.
///
/// For every instance, `Started` comes first and `Finished` last, with any `Retrying` events
/// between; an instance starts after its parent and finishes before it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// When, from the start of the run.
    #[serde(rename = "at_us", serialize_with = "super::record::serialize_micros")]
    pub at: Duration,
    /// The instance ([`NodeRecord::id`](super::NodeRecord::id)).
    pub id: usize,
    /// The instance it runs inside.
    pub parent: Option<usize>,
    /// The node's name.
    pub name: &'static str,
    /// What displays call the node: its name, or for an unnamed construct its keyword, policy
    /// and place (`par(all) at main.rs:57`); see [`Label`].
    pub label: Label,
    /// The node's kind.
    pub node_kind: NodeKind,
    /// The node's full path.
    pub path: Cow<'static, str>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened to a node instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// It started.
    Started,
    /// Attempt number `attempt` failed with `error`; it runs again after its backoff.
    Retrying {
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// Its error, as a log line.
        error: String,
    },
    /// It ended: with a value, an error, at its deadline, or cancelled.
    Finished {
        /// How.
        outcome: Outcome,
    },
}

/// The stream of [`Event`]s of one run, in the order they happened. It ends when its
/// [`Recorder`](super::Recorder) is dropped or turned into its report.
#[derive(Debug)]
pub struct Events {
    receiver: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    pub(super) fn new(receiver: mpsc::UnboundedReceiver<Event>) -> Self {
        Events { receiver }
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.receiver).poll_next(task)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.receiver.size_hint()
    }
}
