//! The loop: take events while there is room, handle them concurrently in the loop's own
//! task, and stop when the source ends, fails, or a graceful shutdown is asked for.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::pin;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt as _};
use plan_runtime::{CancellationToken, Plan};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Reactive;
use super::event::Arrival;
use super::handle::Turns;
use super::outcome::{ReactiveError, Summary};
use super::sinks::count_loop;
use crate::bus::BusError;

/// A reactive loop, to be awaited: from [`Reactive::watch_topic`],
/// [`Reactive::watch_mailbox`] or [`Reactive::watch`]. Nothing happens until it is.
///
/// It returns the loop's [`Summary`] once its source ends (or after a graceful shutdown),
/// having finished every event it took. Dropping it stops at once: the plan runs in flight
/// are dropped (cancelled) with it, and a mailbox's deliveries in flight, unacked, come
/// again.
#[must_use = "a reactive loop does nothing unless it is awaited"]
pub struct Watch<'a> {
    run: BoxFuture<'a, Result<Summary, ReactiveError>>,
    stop: CancellationToken,
    signal: Option<BoxFuture<'a, ()>>,
}

impl<'a> Watch<'a> {
    /// The loop, which stops taking events once `signal` completes, finishes those in
    /// flight, and returns: a graceful shutdown (as axum's `with_graceful_shutdown`). Pass
    /// `token.cancelled_owned()` of a [`CancellationToken`], `tokio::signal::ctrl_c()`
    /// mapped to `()`, or any future. To bound how long the events in flight may take, wrap
    /// the loop in `tokio::time::timeout`; when it passes, the loop is dropped.
    ///
    /// ```
    /// use plan_agents::bus::{Message, Name};
    /// use plan_agents::reactive::Reactive;
    /// use plan_runtime::prelude::*;
    ///
    /// async fn slow(n: u32) -> u32 {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     n
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let reactor = Reactive::new(Name::new("slow").unwrap(), plan! { slow });
    /// let events = futures::stream::iter((0..3).map(|n| Message::json(&n).unwrap()));
    /// let summary = reactor
    ///     .watch(events)
    ///     .with_graceful_shutdown(tokio::time::sleep(Duration::from_millis(10)))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(summary.succeeded, 1); // the event in flight finished; the rest were not taken
    /// # });
    /// ```
    pub fn with_graceful_shutdown(self, signal: impl Future<Output = ()> + Send + 'a) -> Self {
        Watch {
            signal: Some(Box::pin(signal)),
            ..self
        }
    }
}

impl<'a> IntoFuture for Watch<'a> {
    type Output = Result<Summary, ReactiveError>;
    type IntoFuture = BoxFuture<'a, Result<Summary, ReactiveError>>;

    fn into_future(self) -> Self::IntoFuture {
        let Watch {
            mut run,
            stop,
            signal,
        } = self;
        let Some(signal) = signal else {
            return run;
        };
        Box::pin(async move {
            tokio::select! {
                biased;
                done = &mut run => return done,
                () = signal => stop.cancel(),
            }
            run.await
        })
    }
}

impl fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("graceful_shutdown", &self.signal.is_some())
            .finish_non_exhaustive()
    }
}

impl<P, E, C> Reactive<P, E, C>
where
    P: Plan<E, C>,
    P::Out: Serialize,
    E: DeserializeOwned + Send,
    C: Sync,
{
    /// The loop over `events`, as a [`Watch`].
    pub(super) fn watching<'a, A: Arrival + 'a>(
        &'a self,
        events: impl Stream<Item = Result<A, BusError>> + Send + 'a,
    ) -> Watch<'a> {
        let stop = CancellationToken::new();
        Watch {
            run: Box::pin(self.run_loop(events, stop.clone())),
            stop,
            signal: None,
        }
    }

    async fn run_loop<A: Arrival>(
        &self,
        events: impl Stream<Item = Result<A, BusError>> + Send,
        stop: CancellationToken,
    ) -> Result<Summary, ReactiveError> {
        let loop_number = self.count_loop().await?;
        tracing::info!(
            reactor = %self.name,
            loop_number,
            concurrency = self.concurrency,
            "reactive loop started"
        );
        let turns = Turns::default();
        let mut events = pin!(events);
        // Declared after what its futures borrow, so that it is dropped first.
        let mut in_flight = FuturesUnordered::new();
        let (mut summary, mut taken, mut failure) = (Summary::default(), 0, None);
        let mut taking = true;
        loop {
            if !taking && in_flight.is_empty() {
                break;
            }
            // A full loop takes nothing: a mailbox's messages wait for other consumers.
            let room = taking && in_flight.len() < self.concurrency;
            tokio::select! {
                // Finished events first, to free their room before taking more.
                biased;
                Some(tally) = in_flight.next(), if !in_flight.is_empty() => summary.count(tally),
                () = stop.cancelled(), if taking => taking = false,
                next = events.next(), if room => match next {
                    Some(Ok(arrival)) => {
                        taken += 1;
                        in_flight.push(self.handle(arrival, loop_number, taken, &turns));
                    }
                    Some(Err(error)) => {
                        taking = false;
                        failure = Some(error);
                    }
                    None => taking = false,
                },
            }
        }
        let Summary {
            succeeded,
            failed,
            duplicates,
            unrecorded,
        } = summary;
        tracing::info!(
            reactor = %self.name,
            loop_number,
            succeeded,
            failed,
            duplicates,
            unrecorded,
            "reactive loop ended"
        );
        match failure {
            None => Ok(summary),
            Some(source) => Err(ReactiveError::Source {
                reactor: self.name.clone(),
                source,
            }),
        }
    }

    /// This loop's number: counted in the store, if there is one, else by this reactor.
    async fn count_loop(&self) -> Result<u64, ReactiveError> {
        let Some(store) = &self.store else {
            return Ok(self
                .loops
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1);
        };
        let failed = |source| ReactiveError::Store {
            reactor: self.name.clone(),
            source,
        };
        let key =
            plan_state::store::Key::new(format!("reactive/{}/loops", self.name)).map_err(failed)?;
        count_loop(store.as_ref(), &key).await.map_err(failed)
    }
}
