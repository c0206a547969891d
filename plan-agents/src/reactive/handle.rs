//! One event, from its arrival to its settling: its id, the duplicate check, the plan run,
//! the outcome persisted then published, and the ack (or nack) last, so that an event is
//! settled only once its outcome is recorded.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use plan_runtime::{Plan, PlanExt};
use plan_state::store::Key;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tracing::Instrument as _;

use super::Reactive;
use super::event::{Arrival, ID_HEADER, auto_id, own_id};
use super::outcome::{EventOutcome, Tally};
use super::sinks::Records;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The ids of the events in flight in one loop that a store deduplicates, so that a second
/// arrival of one (sent twice, or delivered again when its ack deadline passed) waits for
/// the first, and then finds its outcome, instead of running beside it.
#[derive(Default)]
pub(super) struct Turns(Mutex<HashMap<String, watch::Receiver<()>>>);

/// An event's turn: while it is held, others with its id wait.
struct Turn<'a> {
    turns: &'a Turns,
    id: String,
    /// Dropped last, after [`Drop::drop`] has freed the id: the waiters wake to find it free.
    _done: watch::Sender<()>,
}

impl Turns {
    async fn take(&self, id: &str) -> Turn<'_> {
        loop {
            let mut first = {
                let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                match held.get(id) {
                    Some(first) => first.clone(),
                    None => {
                        let (done, waiting) = watch::channel(());
                        held.insert(id.to_owned(), waiting);
                        return Turn {
                            turns: self,
                            id: id.to_owned(),
                            _done: done,
                        };
                    }
                }
            };
            // Nothing is ever sent: this returns once the first's turn is dropped.
            let _ = first.changed().await;
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut held = self.turns.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.remove(&self.id);
    }
}

impl<P, E, C> Reactive<P, E, C>
where
    P: Plan<E, C>,
    P::Out: Serialize,
    E: DeserializeOwned + Send,
    C: Sync,
{
    /// Handles the `n`th event of loop `loop_number`, in a span naming the reactor and the
    /// event.
    pub(super) async fn handle<A: Arrival>(
        &self,
        arrival: A,
        loop_number: u64,
        n: u64,
        turns: &Turns,
    ) -> Tally {
        let (id, refused) = match own_id(arrival.message()) {
            Ok(Some(id)) => (Some(id.to_owned()), None),
            Ok(None) => (None, None),
            Err(reason) => (None, Some(reason)),
        };
        // Only an event's own id can come again; the reactor's are new every time.
        let dedupe = id.as_ref().and(self.store.as_deref());
        let id = id.unwrap_or_else(|| auto_id(loop_number, n));
        let span = tracing::info_span!("reactive.event", reactor = %self.name, event = %id);
        async {
            let _turn = match dedupe {
                Some(_) => Some(turns.take(&id).await),
                None => None,
            };
            if let Some(store) = dedupe {
                match self.recorded(store, &id).await {
                    Ok(None) => {}
                    Ok(Some(outcome)) => return self.replay(arrival, &id, outcome).await,
                    Err(error) => return unrecorded(arrival, error).await,
                }
            }
            let result = match refused {
                Some(reason) => Err(format!("bad event: {reason}")),
                None => self.run(arrival.message()).await,
            };
            let tally = match &result {
                Ok(_) => {
                    tracing::info!("event handled");
                    Tally::Succeeded
                }
                Err(error) => {
                    tracing::warn!(error = %error, "event failed");
                    Tally::Failed
                }
            };
            let outcome = EventOutcome { event: id, result };
            let priority = arrival.message().priority();
            match self.record(&outcome, priority).await {
                Ok(()) => settle(arrival, tally).await,
                Err(error) => unrecorded(arrival, error).await,
            }
        }
        .instrument(span)
        .await
    }

    /// The plan's output on the message's event, as JSON, or the error's text.
    async fn run(&self, message: &crate::bus::Message) -> Result<serde_json::Value, String> {
        let event: E = message
            .decode()
            .map_err(|error| format!("bad event: {error}"))?;
        let output = self
            .plan
            .run(event)
            .ctx(&self.ctx)
            .options(&self.options)
            .await
            .map_err(|error| error.to_string())?;
        serde_json::to_value(output)
            .map_err(|error| format!("cannot write the plan's output as JSON: {error}"))
    }

    fn key(&self, id: &str) -> Result<Key, BoxError> {
        // A valid name and id always make a valid key (see `own_id`).
        Ok(Key::new(format!("reactive/{}/events/{id}", self.name))?)
    }

    /// The outcome persisted for `id`, if any.
    async fn recorded(
        &self,
        store: &dyn Records,
        id: &str,
    ) -> Result<Option<serde_json::Value>, BoxError> {
        Ok(store.get(&self.key(id)?).await?.map(|stored| stored.value))
    }

    /// Persists the outcome, then publishes it.
    async fn record(&self, outcome: &EventOutcome, priority: u8) -> Result<(), BoxError> {
        let value = serde_json::to_value(outcome)?;
        if let Some(store) = &self.store {
            // Written only where there is nothing: the first outcome of an event is the one
            // kept, should two loops (in two processes, say) have run it at once.
            if store
                .write_if(&self.key(&outcome.event)?, None, &value)
                .await?
                .is_err()
            {
                tracing::warn!(
                    "another loop recorded an outcome for this event first: that one is kept"
                );
            }
        }
        self.announce(&value, &outcome.event, priority).await
    }

    /// Publishes an outcome, if the reactor publishes, with the event's id and priority.
    async fn announce(
        &self,
        outcome: &serde_json::Value,
        id: &str,
        priority: u8,
    ) -> Result<(), BoxError> {
        if let Some(outlet) = &self.outlet {
            let message = crate::bus::Message::json(outcome)?
                .with_header(ID_HEADER, id)?
                .with_priority(priority);
            outlet.publish(message).await?;
        }
        Ok(())
    }

    /// An event handled before: its outcome is published again, for a crash may have come
    /// between persisting and publishing it, and the event acked.
    async fn replay<A: Arrival>(&self, arrival: A, id: &str, outcome: serde_json::Value) -> Tally {
        tracing::info!("event already handled: its recorded outcome is published again");
        let priority = arrival.message().priority();
        match self.announce(&outcome, id, priority).await {
            Ok(()) => settle(arrival, Tally::Duplicate).await,
            Err(error) => unrecorded(arrival, error).await,
        }
    }
}

/// Acks an event whose outcome is recorded. A failed ack is only logged: the event comes
/// again, and is then a duplicate.
async fn settle<A: Arrival>(arrival: A, tally: Tally) -> Tally {
    if let Err(error) = arrival.settle(true).await {
        tracing::warn!(error = %error, "the ack failed: the event will come again");
    }
    tally
}

/// Nacks an event whose outcome could not be recorded, so that it comes again.
async fn unrecorded<A: Arrival>(arrival: A, error: BoxError) -> Tally {
    if A::REDELIVERED {
        tracing::error!(error = %error, "the outcome could not be recorded: the event is nacked");
    } else {
        tracing::error!(error = %error, "the outcome could not be recorded: it is lost");
    }
    if let Err(error) = arrival.settle(false).await {
        tracing::warn!(error = %error, "the nack failed: the event comes again at its deadline");
    }
    Tally::Unrecorded
}
