//! The agent layer for plans: agents that talk over a message bus.
//!
//! * [`bus`]: topics, mailboxes with at-least-once delivery and dead letters, and
//!   request/reply with a deadline, behind one async trait, in process ([`bus::Memory`]) or
//!   over NATS JetStream (`bus::Nats`, feature `nats`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bus;
