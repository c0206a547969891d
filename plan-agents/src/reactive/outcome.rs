//! What a reactive loop produces: an [`EventOutcome`] per event, a [`Summary`] per loop, and the
//! [`ReactiveError`] that ends a loop early.

use plan_state::store::StoreError;
use serde::{Deserialize, Serialize};

use crate::bus::{BusError, Name};

/// How one event went: the plan's output as JSON, or why there is none — the plan's error
/// (which names the node that failed) or why the event was refused (`bad event: ..`).
///
/// It is what a reactor persists and publishes. As JSON it is
/// `{"event": ID, "result": {"Ok": OUTPUT}}` or `{"event": ID, "result": {"Err": TEXT}}`;
/// a subscriber reads it back with its own output type.
///
/// ```
/// use plan_agents::bus::Message;
/// use plan_agents::reactive::EventOutcome;
///
/// let message = Message::new(r#"{"event": "t-1", "result": {"Ok": ["urgent", 2]}}"#);
/// let outcome: EventOutcome<(String, u32)> = message.decode().unwrap();
/// assert_eq!(outcome, EventOutcome { event: "t-1".into(), result: Ok(("urgent".into(), 2)) });
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventOutcome<T = serde_json::Value> {
    /// The event's id: its `id` header, or the one the reactor gave it (`auto-LOOP-N`).
    pub event: String,
    /// The plan's output, or the error text.
    pub result: Result<T, String>,
}

/// What one loop did, each event counted once.
///
/// ```
/// use plan_agents::bus::{Message, Name};
/// use plan_agents::reactive::Reactive;
/// use plan_runtime::prelude::*;
///
/// fn half(n: u32) -> Result<u32, std::fmt::Error> {
///     if n % 2 == 0 { Ok(n / 2) } else { Err(std::fmt::Error) }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let reactor = Reactive::new(Name::new("halver").unwrap(), plan! { half });
/// let events = [Message::json(&4).unwrap(), Message::json(&5).unwrap(), Message::new("?")];
/// let summary = reactor.watch(futures::stream::iter(events)).await.unwrap();
/// assert_eq!((summary.succeeded, summary.failed, summary.total()), (1, 2, 3));
/// // It is serde, to be reported or kept.
/// assert_eq!(serde_json::to_value(summary).unwrap()["failed"], 2);
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Events whose plan succeeded, their outcome recorded.
    pub succeeded: u64,
    /// Events whose plan failed, or that were refused (bad JSON, a bad id), their error
    /// outcome recorded.
    pub failed: u64,
    /// Events not run because their id's outcome was already persisted (a redelivery, or a
    /// message sent twice); their recorded outcome was published again.
    pub duplicates: u64,
    /// Events whose outcome could not be persisted or published (the store or the bus
    /// failed): a mailbox's delivery was nacked, to come again; a topic's event is lost.
    pub unrecorded: u64,
}

impl Summary {
    /// Every event the loop took and finished.
    pub fn total(&self) -> u64 {
        self.succeeded + self.failed + self.duplicates + self.unrecorded
    }

    pub(super) fn count(&mut self, tally: Tally) {
        let counter = match tally {
            Tally::Succeeded => &mut self.succeeded,
            Tally::Failed => &mut self.failed,
            Tally::Duplicate => &mut self.duplicates,
            Tally::Unrecorded => &mut self.unrecorded,
        };
        *counter += 1;
    }
}

/// How one event ended, for the [`Summary`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Tally {
    Succeeded,
    Failed,
    Duplicate,
    Unrecorded,
}

/// Why a reactive loop ended before its source did. Each names the reactor.
///
/// A single event's failure never ends a loop: a plan's error is that event's outcome, and a
/// store or bus that fails to record an outcome counts it as
/// [`unrecorded`](Summary::unrecorded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReactiveError {
    /// The topic, mailbox or stream failed (a server that is down, say). The events in
    /// flight were finished first.
    #[error("reactor `{reactor}`: receiving its events failed: {source}")]
    Source {
        /// The reactor.
        reactor: Name,
        /// The bus's error.
        source: BusError,
    },
    /// The store failed as the loop started, counting its loops (see
    /// [`Reactive::persist`](super::Reactive::persist)); no event was taken.
    #[error("reactor `{reactor}`: cannot start a loop: {source}")]
    Store {
        /// The reactor.
        reactor: Name,
        /// The store's error.
        source: StoreError,
    },
}
