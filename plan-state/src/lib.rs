//! Agent state for plans: typed building blocks for a user's own state struct, which
//! `#[derive(Lens)]` so that plans `focus` on its parts.
//!
//! * [`beliefs`]: weighted beliefs as log-odds per proposition — updated by a delta, read as
//!   a probability, decaying toward the prior with a half-life, combining independent
//!   evidence — with updates that are plain plan steps.
//! * [`memory`]: a key–value memory and an append-only episodic log with a size cap and
//!   compaction.
//! * [`store`]: versioned JSON values behind one async trait, with compare-and-set: a
//!   directory of JSON files written atomically, and SQLite (the embedded default).
//!
//! Memory and beliefs are `serde` values, so a store keeps them between runs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod beliefs;
mod journal;
pub mod memory;
pub mod runs;
pub mod store;
pub mod wait;
