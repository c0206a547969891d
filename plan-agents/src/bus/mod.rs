//! A message bus for agents, behind one async trait: topics, mailboxes with at-least-once
//! delivery, and request/reply with a deadline.
//!
//! * **Topics** ([`Bus::publish`], [`Bus::subscribe`]): every subscriber gets every message
//!   published after it subscribed, in order.
//! * **Mailboxes** ([`Bus::send`], [`Bus::consume`]): each message goes to one of the
//!   mailbox's consumers, which acks it ([`Delivery::ack`]) once it is handled. A delivery
//!   that is nacked, dropped unacked, or not acked within [`BusLimits::ack_deadline`] is
//!   delivered again, to any consumer; after [`BusLimits::max_deliveries`] it goes to the
//!   mailbox's dead letters ([`Bus::dead_letters`]), to be replayed
//!   ([`Bus::replay_dead_letters`]) once whatever made it fail is fixed.
//! * **Requests** ([`Bus::request`], [`Bus::serve`]): one responder of a subject gets each
//!   request and replies; the requester gets the reply, or an error once its deadline passes.
//!
//! Queues are bounded ([`BusLimits::capacity`]): a publisher or sender facing a full one waits
//! until there is room. Nothing is dropped to make room.
//!
//! # Limits
//!
//! * **Messages**: at most [`BusLimits::max_message`] bytes (payload and headers, as
//!   [`Message::size`] counts them), 1 MiB by default, the default `max_payload` of a NATS
//!   server. A larger publish, send, request or reply fails with [`BusError::TooLarge`]
//!   before anything is sent; on NATS, so does one over the server's own `max_payload`, so
//!   that the server never closes the connection over it.
//! * **Queues**: [`BusLimits::capacity`] messages each (above).
//! * **Names** ([`Name`]): 1 to 64 bytes; an error echoes at most 64 bytes of a name or a
//!   header's name given to it (`aaaa… (500000 bytes)`).
//!
//! * [`InMemory`]: in process, the default.
//! * `Nats` (feature `nats`): NATS JetStream, for agents in several processes.
//!
//! Both pass one conformance suite (`plan-agents/tests/common/mod.rs`).
//!
//! ```
//! use std::time::Duration;
//! use plan_agents::bus::{Bus, Consumer, Delivery, InMemory, Message, Name};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let bus = InMemory::new();
//! let inbox = Name::new("agent-ada").unwrap();
//! let mut consumer = bus.consume(&inbox).await.unwrap();
//! bus.send(&inbox, Message::json(&"summarize chapter 3").unwrap()).await.unwrap();
//!
//! // A consumer that fails nacks: the message comes again, counted.
//! let first = consumer.recv().await.unwrap();
//! assert_eq!(first.attempt(), 1);
//! first.nack().await.unwrap();
//! let again = consumer.recv().await.unwrap();
//! assert_eq!((again.attempt(), again.message().decode::<String>().unwrap().as_str()),
//!            (2, "summarize chapter 3"));
//! again.ack().await.unwrap();
//! # });
//! ```

mod dead_letter;
mod error;
pub mod in_memory;
mod journal;
mod limits;
mod message;
mod name;
#[cfg(feature = "nats")]
pub mod nats;

use std::future::Future;
use std::time::Duration;

pub use dead_letter::{DeadLetter, Failure};
pub use error::BusError;
pub use in_memory::InMemory;
pub use limits::BusLimits;
pub use message::Message;
pub use name::Name;
#[cfg(feature = "nats")]
pub use nats::{Nats, NatsConfig};

/// A message bus. Every backend passes one conformance suite (the feature `testkit`'s
/// `bus_conformance!`, which a backend of your own can call too); their guarantees are in the
/// crate's docs.
pub trait Bus: Send + Sync {
    /// What [`Bus::subscribe`] returns.
    type Subscription: Subscription;
    /// What [`Bus::consume`] returns.
    type Consumer: Consumer;
    /// What [`Bus::serve`] returns.
    type Responder: Responder;

    /// Publishes `message` on `topic`, for every subscriber; waits while a subscriber's
    /// queue is full.
    fn publish(
        &self,
        topic: &Name,
        message: Message,
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Subscribes to `topic`: the subscription gets every message published from now on.
    fn subscribe(
        &self,
        topic: &Name,
    ) -> impl Future<Output = Result<Self::Subscription, BusError>> + Send;

    /// Sends `message` to `mailbox`, for one of its consumers; waits while the mailbox is
    /// full. The mailbox keeps it until a consumer acks it (or it is dead-lettered).
    fn send(
        &self,
        mailbox: &Name,
        message: Message,
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// A consumer of `mailbox`, competing with its other consumers for each message.
    fn consume(
        &self,
        mailbox: &Name,
    ) -> impl Future<Output = Result<Self::Consumer, BusError>> + Send;

    /// Sends `message` as a request on `subject` and waits at most `deadline` for the reply.
    ///
    /// Fails with [`BusError::NoResponders`] at once if nobody serves `subject`,
    /// [`BusError::Unanswered`] if the responder dropped the request, and
    /// [`BusError::Timeout`] once the deadline passes.
    fn request(
        &self,
        subject: &Name,
        message: Message,
        deadline: Duration,
    ) -> impl Future<Output = Result<Message, BusError>> + Send;

    /// A responder for `subject`, competing with its other responders for each request.
    fn serve(
        &self,
        subject: &Name,
    ) -> impl Future<Output = Result<Self::Responder, BusError>> + Send;

    /// The dead letters of `mailbox`, oldest first.
    fn dead_letters(
        &self,
        mailbox: &Name,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, BusError>> + Send;

    /// Sends every dead letter of `mailbox` back into it, with a fresh count of deliveries,
    /// oldest first; returns how many. Waits while the mailbox is full.
    fn replay_dead_letters(
        &self,
        mailbox: &Name,
    ) -> impl Future<Output = Result<usize, BusError>> + Send;
}

/// A topic's subscriber (from [`Bus::subscribe`]). Dropping it unsubscribes.
pub trait Subscription: Send {
    /// The next message on the topic; waits for one.
    fn recv(&mut self) -> impl Future<Output = Result<Message, BusError>> + Send;
}

/// A mailbox's consumer (from [`Bus::consume`]).
pub trait Consumer: Send {
    /// What [`Consumer::recv`] returns.
    type Delivery: Delivery;

    /// The next message for this consumer; waits for one.
    fn recv(&mut self) -> impl Future<Output = Result<Self::Delivery, BusError>> + Send;
}

/// One delivery of a mailbox's message, to be acked once handled. Dropping it unacked
/// counts as a failed delivery ([`Failure::Dropped`]): the message is delivered again.
pub trait Delivery: Send {
    /// The message.
    fn message(&self) -> &Message;

    /// Which delivery of the message this is: 1 for the first.
    fn attempt(&self) -> u32;

    /// The message is handled: the mailbox forgets it.
    fn ack(self) -> impl Future<Output = Result<(), BusError>> + Send;

    /// The message could not be handled: it is delivered again at once, or dead-lettered if
    /// this was its last delivery.
    fn nack(self) -> impl Future<Output = Result<(), BusError>> + Send;
}

/// A request subject's responder (from [`Bus::serve`]). Dropping it stops serving.
pub trait Responder: Send {
    /// What [`Responder::recv`] returns.
    type Incoming: Incoming;

    /// The next request for this responder; waits for one.
    fn recv(&mut self) -> impl Future<Output = Result<Self::Incoming, BusError>> + Send;
}

/// A request to reply to. Dropping it unanswered fails the requester at once with
/// [`BusError::Unanswered`].
pub trait Incoming: Send {
    /// The request's message.
    fn message(&self) -> &Message;

    /// Sends `reply` to the requester (it is dropped if the requester gave up).
    fn reply(self, reply: Message) -> impl Future<Output = Result<(), BusError>> + Send;
}
