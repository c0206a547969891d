//! Agent state for plans: typed building blocks for a user's own state struct, which
//! `#[derive(Lens)]` so that plans `focus` on its parts, and plan runs that survive a crash.
//!
//! * [`beliefs`]: weighted beliefs as log-odds per proposition — updated by a delta, read as
//!   a probability, decaying toward the prior with a half-life, combining independent
//!   evidence — with updates that are plain plan steps.
//! * [`memory`]: a key–value memory and an append-only episodic log with a size cap and
//!   compaction.
//! * [`store`]: versioned JSON values behind one async trait, with compare-and-set: a
//!   directory of JSON files written atomically, SQLite (the embedded default), Redis, and
//!   a NATS JetStream key-value bucket.
//! * [`persist`]: a state of your own type loaded from a store at the start of a plan and
//!   saved at its end, by two plan steps; a save never overwrites a newer state.
//! * [`sanitize`]: what runs over a state before it is persisted — secrets redacted, strings
//!   and arrays capped.
//! * [`runs`]: durable plan runs — each `#[durable]` node's output journaled in a store as it
//!   finishes, replayed when the run is run again after a crash.
//! * `testkit` (feature `testkit`): the store conformance suite, one test per property,
//!   for a backend of your own: one `store_conformance!` call proves it.
//! * [`wait`]: a step that pauses a durable run until a person answers its question.
//!
//! Memory and beliefs are `serde` values, so a store keeps them between runs.
//!
//! # What each store guarantees
//!
//! | store | a write is | after a process crash (`kill -9`) | after a power loss | shared by |
//! |---|---|---|---|---|
//! | [`JsonFiles`](store::JsonFiles) | atomic: a temporary file, fsynced, renamed over the old one, under an advisory lock on `DIR/.lock` | every returned write is there; the next opening removes the cut write's temporary file | every returned write is there (file and directory fsynced) | the processes of one machine, on a local filesystem (`flock`): compare-and-set is exact across them; not on a network filesystem, where `flock` may not be honoured |
//! | [`Sqlite`](store::Sqlite) | one transaction (`BEGIN IMMEDIATE`) | every returned write is there | WAL with `synchronous = NORMAL`: the last writes before the loss may be rolled back, the file is never corrupt | the processes of one machine (SQLite's file locks): compare-and-set is exact across them |
//! | `Redis` (feature `redis`) | one Lua script, atomic on the server | every returned write is there (the server is another process) | as the server's persistence says (`appendonly yes` + `appendfsync always` keeps every write; the default snapshots lose the last ones) | every process that reaches the server: compare-and-set is exact across them |
//! | `plan_remote::nats::NatsStore` (crate `plan-remote`) | one entry, written only if the key's last revision is still the one read | every returned write is there (the servers are other processes) | JetStream fsyncs every 2 minutes by default (`sync_interval`): one server may lose the last writes; with `replicas: 3` a write returns once two servers have it, so losing one machine loses none | every process that reaches the server or cluster: compare-and-set is exact across them |
//! | [`InMemory`](store::InMemory) | one lock in the process | lost | lost | the tasks of one process, by nature |
//!
//! A durable run writes each node output with one such write, so its journal keeps what its
//! store keeps: on SQLite, a killed process loses no journaled output.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod beliefs;
mod journal;
pub mod memory;
pub mod persist;
pub mod runs;
pub mod sanitize;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod wait;
