//! The agent layer for plans: agents with their own state and task queue that sleep and wake,
//! run on schedules, survive restarts, and talk over a message bus.
//!
//! * [`bus`]: topics, mailboxes with at-least-once delivery and dead letters, and
//!   request/reply with a deadline, behind one async trait ([`bus::Bus`]), in process
//!   ([`bus::InMemory`]) or over NATS JetStream (`bus::Nats`, feature `nats`).
//! * [`session`]: agents ([`session::Agents`]) of kinds registered with a plan each: idle,
//!   active, sleeping, waiting or stopped, with priority task queues and limits, sleep until a
//!   time, an event or urgent mail, [schedules](schedule), and records in a `plan-state` store
//!   that a restart restores; failed tasks are retried, then dead-lettered.
//! * [`reactive`]: a plan run per event of a topic, a mailbox or any stream, a few at once,
//!   each outcome persisted and published before its delivery is acked; redeliveries of an
//!   event already handled are not run again.
//! * `control` (feature `control`): a WebSocket endpoint speaking JSON-RPC 2.0 that creates,
//!   schedules, sleeps, wakes, mails, stops and lists agents, and streams their events.
//! * `testkit` (feature `testkit`): the bus conformance suite, one test per property, for a
//!   backend of your own: one `bus_conformance!` call proves it.
//!
//! A bus is a plan's context: its steps send, publish and ask through it, and the plan does
//! not care which backend it is.
//!
//! ```
//! use plan_agents::bus::{Bus, BusError, Consumer, Delivery, InMemory, Message, Name};
//! use plan_runtime::prelude::*;
//!
//! async fn draft(topic: String) -> String {
//!     format!("a draft on {topic}")
//! }
//! async fn hand_in(text: String, bus: &InMemory) -> Result<(), BusError> {
//!     bus.send(&Name::new("editor")?, Message::json(&text)?).await
//! }
//!
//! let writer = plan! { draft >> hand_in };
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let bus = InMemory::new();
//! let mut editor = bus.consume(&Name::new("editor").unwrap()).await.unwrap();
//! writer.run("rust".to_owned()).ctx(&bus).await.unwrap();
//! let mail = editor.recv().await.unwrap();
//! assert_eq!(mail.message().decode::<String>().unwrap(), "a draft on rust");
//! mail.ack().await.unwrap();
//! # });
//! ```
//!
//! # Delivery guarantees
//!
//! Both backends pass one conformance suite; where they differ, it is here.
//!
//! | | [`InMemory`](bus::InMemory) | `Nats` |
//! | --- | --- | --- |
//! | reach | one process | every process on the server |
//! | kept across restarts | nothing | topics, mailboxes and dead letters (file storage); not requests |
//! | topic: who gets a message | each subscriber subscribed when it was published | the same |
//! | topic: how often, in what order | once, in each publisher's order | once, in the stream's one order (a message the server sends again is skipped) |
//! | topic: a full subscriber queue | the publisher waits for the slowest subscriber | the publisher waits, trying again from 1 ms to every 64 ms; a subscriber whose process died holds it for up to 10 s |
//! | mailbox: delivery | at least once, to one consumer at a time, first in first out (a failed message goes first) | at least once, to one consumer at a time; pulled one at a time, so none waits in another consumer's buffer; the count of attempts is the server's, which may take one back when a pull expires (every 30 s) just as it hands out a message |
//! | mailbox: a full mailbox | the sender waits until an ack or a dead letter makes room | the same, trying again as for topics |
//! | nack, or a delivery dropped unacked | delivered again at once | the same (a dropped delivery is nacked from a task of its own) |
//! | ack deadline passed, consumer's process died | delivered again exactly at the deadline | delivered again when the server's ack wait passes |
//! | an ack after the deadline | changes nothing once the message is queued again | the server may take it, if the message is not yet acked |
//! | dead letters | on the failure of the last delivery | a nack or drop of the last delivery: at once; its deadline: when a consumer next pulls the message |
//! | requests | at most once; a responder that drops one fails the requester at once | at most once (core NATS); the same, by a reply that says so |
//! | a server that is down | — | connecting, sending, publishing and requesting fail within the configured timeout for each round trip; a consumer's `recv` within about 3 s |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bus;
#[cfg(feature = "control")]
pub mod control;
mod echo;
pub mod reactive;
pub mod schedule;
pub mod session;
#[cfg(feature = "testkit")]
pub mod testkit;
