//! Reactive loops: a plan run per event of a topic, a mailbox or any stream of messages, a
//! few at once, each event's [`EventOutcome`] persisted in a store and published on a topic.
//!
//! ```
//! use plan_agents::bus::{Bus, InMemory, Message, Name, Subscription};
//! use plan_agents::reactive::{EventOutcome, Reactive};
//! use plan_runtime::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Ticket { title: String }
//!
//! async fn triage(ticket: Ticket) -> &'static str {
//!     if ticket.title.contains("crash") { "urgent" } else { "later" }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let bus = InMemory::new();
//! let (tickets, triaged) = (Name::new("tickets").unwrap(), Name::new("triaged").unwrap());
//! let reactor = Reactive::new(Name::new("triage").unwrap(), plan! { triage })
//!     .concurrency(4)
//!     .publish(bus.clone(), triaged.clone());
//! let mut outcomes = bus.subscribe(&triaged).await.unwrap();
//! let stop = CancellationToken::new();
//! let watching = reactor
//!     .watch_topic(bus.subscribe(&tickets).await.unwrap())
//!     .with_graceful_shutdown(stop.clone().cancelled_owned());
//! let sending = async {
//!     let ticket = Message::json(&serde_json::json!({ "title": "app crash" })).unwrap();
//!     bus.publish(&tickets, ticket.with_header("id", "t-1").unwrap()).await.unwrap();
//!     bus.publish(&tickets, Message::new("not json")).await.unwrap();
//!     let first: EventOutcome<String> = outcomes.recv().await.unwrap().decode().unwrap();
//!     assert_eq!(first, EventOutcome { event: "t-1".into(), result: Ok("urgent".into()) });
//!     let second: EventOutcome<String> = outcomes.recv().await.unwrap().decode().unwrap();
//!     assert_eq!(second.event, "auto-1-2"); // no `id` header: loop 1's 2nd event
//!     assert!(second.result.unwrap_err().starts_with("bad event: cannot decode"));
//!     stop.cancel();
//! };
//! let (summary, ()) = tokio::join!(watching, sending);
//! let summary = summary.unwrap();
//! assert_eq!((summary.succeeded, summary.failed), (1, 1));
//! # });
//! ```
//!
//! # Events
//!
//! An event is a [`Message`] whose payload is the plan's input as JSON. Its id is its `id`
//! header: 1 to 100 ASCII letters, digits and `_ - . :`, not starting
//! with `.` or `auto-`. An event without one is given `auto-LOOP-N`: the `N`th event of the
//! reactor's `LOOP`th loop, counted in the store (so that loops in every process sharing it
//! count apart), or by the [`Reactive`] value without a store.
//!
//! An event that is not the JSON of the plan's input, or whose `id` is refused, is not run:
//! its outcome is an error (`bad event: ..`), recorded like any other, and it is acked. The
//! same bytes would fail again, so a retry could only end in the dead letters.
//!
//! # Outcomes
//!
//! Each event's outcome — the plan's output as JSON, or its error, which names the node that
//! failed — is written to the store (if [`Reactive::persist`]) under
//! `reactive/NAME/events/ID`, then published (if [`Reactive::publish`]) with the event's
//! `id` and priority, and only then is a mailbox's delivery acked. A plan's error is an
//! outcome like an output and is acked too: retrying is the plan's business (`#[retry]`).
//!
//! # At least once, run once
//!
//! A mailbox's event is acked once its outcome is recorded, so a loop that dies before that
//! (its future dropped, its process killed) has its events delivered again, to the next loop.
//! With a store, an event whose id already has an outcome is not run again: its recorded
//! outcome is published again (a crash may have come before it was) and the event acked. So
//! outcomes are published at least once, and a plan runs once per id unless a loop dies
//! while running it. Without a store, or without an `id`, a redelivered event runs again.
//!
//! With a store, an event that arrives while another with its id is in flight in the same
//! loop (sent twice, or delivered again because the first delivery outlived its ack
//! deadline) waits for it, then counts as a duplicate.
//!
//! An outcome that cannot be recorded (the store or the bus failed) is counted as
//! [`unrecorded`](Summary::unrecorded) and its delivery nacked: it comes again, and after its
//! mailbox's `max_deliveries` goes to the dead letters, to be replayed once the store is
//! back. A topic's event whose outcome cannot be recorded is lost.
//!
//! # Concurrency, stopping, tracing
//!
//! At most [`Reactive::concurrency`] events are in flight (1 by default); the loop takes the
//! next one only when one finishes, so it never holds more of a mailbox's messages than
//! that. The runs share the task that awaits the loop, as a plan's branches do; spawn the
//! loop to give it a task of its own: `tokio::spawn(async move {
//! reactor.watch_topic(events).await })`.
//!
//! A loop ends when its source does (a stream that ends, a bus that closes); when
//! [`Watch::with_graceful_shutdown`]'s signal completes, after the events in flight; and at
//! once when its future is dropped, cancelling the runs in flight (so
//! `token.run_until_cancelled(loop)` stops it at once on a token). A source that fails ends
//! it after the events in flight, with [`ReactiveError::Source`].
//!
//! Each event is handled in an INFO span `reactive.event` with fields `reactor` and `event`
//! (its id), in which the plan's spans nest; an event at its end says how it went (INFO
//! `event handled`, WARN `event failed` with its `error`, ERROR when its outcome could not
//! be recorded). A loop logs INFO events as it starts and ends, the latter with its
//! [`Summary`].

mod event;
mod handle;
mod outcome;
mod sinks;
mod watch;

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;

use futures::{Stream, StreamExt as _};
use plan_runtime::Plan;
use plan_runtime::run::Options;
use plan_state::store::Store;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use outcome::{EventOutcome, ReactiveError, Summary};
pub use watch::Watch;

use crate::bus::{Bus, Consumer, Message, Name, Subscription};
use sinks::{Outlet, Publisher, Records};

/// A plan that reacts to events: run once per event, its outcomes persisted and published.
/// See the [module](self) for what it guarantees.
///
/// `P` is a plan taking the events `E` (decoded from JSON) with context `C` and giving an
/// output that serializes. A reactor is configured once and watches any number of sources,
/// one loop each (or several at once, through `&self`).
pub struct Reactive<P, E, C = ()> {
    name: Name,
    plan: P,
    ctx: C,
    options: Options,
    concurrency: usize,
    store: Option<Box<dyn Records>>,
    outlet: Option<Box<dyn Outlet>>,
    /// The loops run without a store, to number their events.
    loops: AtomicU64,
    events: PhantomData<fn() -> E>,
}

impl<P, E> Reactive<P, E> {
    /// A reactor named `name` (in its store keys and its spans) that runs `plan` once per
    /// event, one event at a time, recording nothing until told where.
    pub fn new(name: Name, plan: P) -> Self {
        Reactive {
            name,
            plan,
            ctx: (),
            options: Options::new(),
            concurrency: 1,
            store: None,
            outlet: None,
            loops: AtomicU64::new(0),
            events: PhantomData,
        }
    }
}

impl<P, E, C> Reactive<P, E, C> {
    /// The reactor, its plan run with the context `ctx` (what steps taking `&C` receive: a
    /// bus, a client, configuration).
    ///
    /// ```
    /// use plan_agents::bus::{Message, Name};
    /// use plan_agents::reactive::Reactive;
    /// use plan_runtime::prelude::*;
    ///
    /// struct Rates { eur_per_usd: f64 }
    /// fn to_eur(usd: f64, rates: &Rates) -> f64 { usd * rates.eur_per_usd }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let reactor = Reactive::new(Name::new("fx").unwrap(), plan! { to_eur })
    ///     .ctx(Rates { eur_per_usd: 0.5 });
    /// let events = futures::stream::iter([Message::json(&10.0).unwrap()]);
    /// assert_eq!(reactor.watch(events).await.unwrap().succeeded, 1);
    /// # });
    /// ```
    pub fn ctx<D>(self, ctx: D) -> Reactive<P, E, D> {
        Reactive {
            name: self.name,
            plan: self.plan,
            ctx,
            options: self.options,
            concurrency: self.concurrency,
            store: self.store,
            outlet: self.outlet,
            loops: self.loops,
            events: PhantomData,
        }
    }

    /// The reactor, each event's run given `options`: a budget that all the events of every
    /// loop spend from (`Options::new().shared(budget)`), a deadline per event, cancellation,
    /// a monitor. An event whose run fails on them (a budget refusal, a timeout) is an event
    /// that failed, with the error as its outcome.
    ///
    /// ```
    /// use std::time::Duration;
    /// use plan_agents::bus::{Message, Name};
    /// use plan_agents::reactive::Reactive;
    /// use plan_runtime::prelude::*;
    /// use plan_runtime::run::Options;
    ///
    /// async fn slow(n: u32) -> u32 { tokio::time::sleep(Duration::from_secs(n.into())).await; n }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let reactor = Reactive::new(Name::new("slow").unwrap(), plan! { slow })
    ///     .options(Options::new().timeout(Duration::from_secs(5)));
    /// let events = futures::stream::iter([Message::json(&1).unwrap(), Message::json(&60).unwrap()]);
    /// let tally = reactor.watch(events).await.unwrap();
    /// assert_eq!((tally.succeeded, tally.failed), (1, 1));
    /// # });
    /// ```
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The reactor, with at most `limit` events in flight in each loop (a limit of 0 is
    /// taken as 1).
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.concurrency = limit.max(1);
        self
    }

    /// The reactor, writing each event's [`EventOutcome`] to `store` under
    /// `reactive/NAME/events/ID` (and counting its loops under `reactive/NAME/loops`), and
    /// running no event whose id already has one there. Pass an `Arc` of a store to keep
    /// using it elsewhere.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use plan_agents::bus::{Message, Name};
    /// use plan_agents::reactive::Reactive;
    /// use plan_runtime::prelude::*;
    /// use plan_state::store::{JsonFiles, Key, Store};
    ///
    /// fn double(n: u32) -> u32 { n * 2 }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let dir = std::env::temp_dir().join(format!("plan-agents-doc-persist-{}", std::process::id()));
    /// let store = Arc::new(JsonFiles::open(&dir).unwrap());
    /// let reactor = Reactive::new(Name::new("doubler").unwrap(), plan! { double })
    ///     .persist(Arc::clone(&store));
    /// let event = Message::json(&21).unwrap().with_header("id", "n-21").unwrap();
    /// let again = event.clone();
    /// let summary = reactor.watch(futures::stream::iter([event, again])).await.unwrap();
    /// assert_eq!((summary.succeeded, summary.duplicates), (1, 1)); // run once
    /// let saved = store.get(&Key::new("reactive/doubler/events/n-21").unwrap()).await.unwrap();
    /// assert_eq!(saved.unwrap().value, serde_json::json!({ "event": "n-21", "result": { "Ok": 42 } }));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # });
    /// ```
    pub fn persist(mut self, store: impl Store + 'static) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// The reactor, publishing each event's [`EventOutcome`] as JSON on `topic` of `bus`, with
    /// the event's id in an `id` header (so that a reactor watching `topic` deduplicates by
    /// it) and the event's priority.
    ///
    /// ```
    /// use plan_agents::bus::{Bus, InMemory, Message, Name, Subscription};
    /// use plan_agents::reactive::{EventOutcome, Reactive};
    /// use plan_runtime::prelude::*;
    ///
    /// fn check(n: u32) -> Result<u32, std::fmt::Error> {
    ///     if n > 9 { Err(std::fmt::Error) } else { Ok(n) }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (bus, done) = (InMemory::new(), Name::new("checked").unwrap());
    /// let reactor = Reactive::new(Name::new("checker").unwrap(), plan! { check })
    ///     .publish(bus.clone(), done.clone());
    /// let mut outcomes = bus.subscribe(&done).await.unwrap();
    /// let event = Message::json(&10).unwrap().with_header("id", "n-10").unwrap();
    /// reactor.watch(futures::stream::iter([event])).await.unwrap();
    /// let published = outcomes.recv().await.unwrap();
    /// assert_eq!(published.header("id"), Some("n-10"));
    /// let outcome: EventOutcome<u32> = published.decode().unwrap();
    /// assert!(outcome.result.unwrap_err().starts_with("`check` (step at "), "the node is named");
    /// # });
    /// ```
    pub fn publish(mut self, bus: impl Bus + 'static, topic: Name) -> Self {
        self.outlet = Some(Box::new(Publisher { bus, topic }));
        self
    }

    /// The reactor's name.
    pub fn name(&self) -> &Name {
        &self.name
    }
}

impl<P, E, C> Reactive<P, E, C>
where
    P: Plan<E, C>,
    P::Out: Serialize,
    E: DeserializeOwned + Send,
    C: Sync,
{
    /// A loop over a topic's messages (subscribe first: the subscription has every message
    /// published since), until the bus closes.
    pub fn watch_topic<'a>(&'a self, subscription: impl Subscription + 'a) -> Watch<'a> {
        self.watching(event::topic(subscription))
    }

    /// A loop over a mailbox's deliveries, each acked once its outcome is recorded, until
    /// the bus closes. Several loops, in several processes, may consume one mailbox: each
    /// message goes to one of them.
    ///
    /// ```
    /// use plan_agents::bus::{Bus, InMemory, Message, Name};
    /// use plan_agents::reactive::Reactive;
    /// use plan_runtime::prelude::*;
    ///
    /// fn shout(text: String) -> String { text.to_uppercase() }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let (bus, inbox) = (InMemory::new(), Name::new("inbox").unwrap());
    /// let reactor = Reactive::new(Name::new("shouter").unwrap(), plan! { shout });
    /// let consumer = bus.consume(&inbox).await.unwrap();
    /// bus.send(&inbox, Message::json("hi").unwrap()).await.unwrap();
    /// drop(bus); // the loop ends once the bus is gone and its mailbox is empty
    /// assert_eq!(reactor.watch_mailbox(consumer).await.unwrap().succeeded, 1);
    /// # });
    /// ```
    pub fn watch_mailbox<'a, K>(&'a self, consumer: K) -> Watch<'a>
    where
        K: Consumer + 'a,
        K::Delivery: 'a,
    {
        self.watching(event::mailbox(consumer))
    }

    /// A loop over any stream of events (a webhook's bodies, a file's lines, a channel),
    /// until it ends. Its events have no acks: give them an `id` header for a store to
    /// deduplicate them.
    pub fn watch<'a>(&'a self, events: impl Stream<Item = Message> + Send + 'a) -> Watch<'a> {
        self.watching(events.map(Ok))
    }
}

impl<P, E, C> fmt::Debug for Reactive<P, E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactive")
            .field("name", &self.name)
            .field("concurrency", &self.concurrency)
            .field("store", &self.store.as_ref().map(|store| store.name()))
            .field(
                "publish",
                &self.outlet.as_ref().map(|outlet| outlet.topic()),
            )
            .finish_non_exhaustive()
    }
}
