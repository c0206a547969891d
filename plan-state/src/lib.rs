//! Agent state for plans: typed building blocks for a user's own state struct, which
//! `#[derive(Lens)]` so that plans `focus` on its parts.
//!
//! * [`beliefs`]: weighted beliefs as log-odds per proposition — updated by a delta, read as
//!   a probability, decaying toward the prior with a half-life, combining independent
//!   evidence — with updates that are plain plan steps.
//! * [`memory`]: a key–value memory and an append-only episodic log with a size cap and
//!   compaction.
//! * [`store`]: versioned JSON values behind one async trait, with compare-and-set: a
//!   directory of JSON files written atomically, SQLite (the embedded default) and Redis.
//! * [`persist`]: a state of your own type loaded from a store at the start of a plan and
//!   saved at its end, by two plan steps; a save never overwrites a newer state.
//! * [`sanitize`]: what runs over a state before it is persisted — secrets redacted, strings
//!   and arrays capped.
//!
//! Memory and beliefs are `serde` values, so a store keeps them between runs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod beliefs;
pub mod memory;
pub mod persist;
pub mod sanitize;
pub mod store;
