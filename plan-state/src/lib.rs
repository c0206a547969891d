//! Agent state for plans: typed building blocks for a user's own state struct, which
//! `#[derive(Lens)]` so that plans `focus` on its parts.
//!
//! * [`beliefs`]: weighted beliefs as log-odds per proposition — updated by a delta, read as
//!   a probability, decaying toward the prior with a half-life, combining independent
//!   evidence — with updates that are plain plan steps.
//! * [`memory`]: a key–value memory and an append-only episodic log with a size cap and
//!   compaction.
//!
//! Both are `serde` values, so a store can keep them between runs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod beliefs;
pub mod memory;
