//! Plans over many processes: steps that run on worker processes.
//!
//! A plan calls a step on workers as it calls any step: a [`RemoteStep`] made by
//! [`Remote::step`] is a typed plan value, checked against the signature the workers
//! registered. Each call is a [`Job`] that an [`Engine`] runs on a worker — on
//! [NATS JetStream](nats) across processes and machines, or in this process ([`Local`]) —
//! and whose [`Done`] comes back; workers serve a [`Registry`] of named plans.
//!
//! ```text
//!  coordinator (the plan)               NATS JetStream                    workers
//! ┌────────────────────────┐  job   ┌──────────────────────┐  pull   ┌──────────────┐
//! │ each(all) { (item) } ──┼───────▶│ stream  ns_jobs      │────────▶│ worker w1    │
//! │   durable journal ─────┼──┐     │ bucket  ns_results   │◀────────┤ worker w2    │
//! └────────────────────────┘  │     │ bucket  ns_steps     │ result  │ (Registry)   │
//!            ▲   watch result │     └──────────────────────┘         └──────────────┘
//!            └────────────────┴── store on JetStream key-value (any process continues the run)
//! ```
//!
//! What runs how often, and what a crash costs:
//!
//! | | here | Temporal | Restate |
//! | --- | --- | --- | --- |
//! | a remote step | at least once; its first result kept, once per key | activity: at least once | at least once per journal entry |
//! | a step's result, in the run | exactly once (the journal and the key's kept result) | exactly once (history) | exactly once (journal) |
//! | a worker killed mid-step | the step runs again on another worker after `redeliver_after` | after the activity's timeout | after the invocation's retry |
//! | the coordinator killed | the run continues in any process with the same id: finished steps are not run again | workflow replays from history | invocation replays its journal |
//! | a NATS node lost (3 replicas) | nothing lost; the run goes on | — | — |
//!
//! ```
//! use plan_remote::{Local, Registry, Remote};
//! use plan_runtime::prelude::*;
//!
//! fn square(n: u32) -> u64 { u64::from(n) * u64::from(n) }
//! fn total(squares: Vec<u64>) -> u64 { squares.iter().sum() }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // In production the engine is `nats::Nats` and the registry is served by `nats::Worker`s.
//! let remote = Remote::new(Local::new(Registry::new().step("square", plan! { square })));
//! let square = remote.step::<u32, u64>("square").await.unwrap();
//! let sum = plan! { each(all) { (square.clone()) } >> total };
//! assert_eq!(sum.run(vec![1, 2, 3]).await.unwrap(), 14);
//! # });
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod engine;
mod error;
mod job;
mod local;
pub mod nats;
mod registry;
mod signature;
mod step;

pub use engine::Engine;
pub use error::RemoteError;
pub use job::{Done, Job, Outcome};
pub use local::Local;
pub use registry::Registry;
pub use signature::Signature;
pub use step::{Remote, RemoteStep};
