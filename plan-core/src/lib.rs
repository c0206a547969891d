//! Runtime-agnostic vocabulary of the plan DSL.
//!
//! Most users depend on `plan-runtime`, which re-exports everything here together with the
//! `plan!` macro and the tokio combinators. This crate holds what does not need a runtime:
//!
//! * [`Plan`], the typed async arrow every node implements, and [`Describe`];
//! * [`BoxPlan`], any plan of a given input, output and context behind one type;
//! * [`Cx`], what a node receives besides its input;
//! * [`PlanError`] and [`NodeRef`], which name the failing node, and the [`Votes`] of a
//!   `quorum` that reached no agreement;
//! * [`NodeInfo`], the static identity the macro records for every node;
//! * [`Lens`], [`lens`] and [`Then`], for `focus`;
//! * [`ParallelSpec`] and [`PolicyKind`];
//! * [`PlanGraph`], a plan described as a graph, with Mermaid and DOT renderings;
//! * [`Monitor`], the hooks through which a run is watched (run reports, progress);
//! * [`layer`]: wrappers around plans (a deadline, limits, a cache), stacked in order.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod boxed;
mod cx;
mod error;
mod extensions;
mod graph;
mod journal;
pub mod layer;
mod lens;
mod monitor;
mod node;
mod plan;
mod spec;
mod votes;

pub use boxed::BoxPlan;
pub use cx::{Cx, Scope};
pub use error::{PlanError, StepError};
pub use extensions::Extensions;
pub use graph::{Edge, GraphBuilder, GraphNode, HedgeDelay, HedgeInfo, PlanGraph, RetryInfo};
pub use journal::{Entry, Journal};
pub use lens::{FnLens, Lens, Then, lens};
pub use monitor::{Ended, Monitor};
pub use node::{Label, Location, NodeInfo, NodeKind, NodeRef};
pub use plan::{Describe, Plan};
pub use spec::{ParallelSpec, PolicyKind};
pub use votes::{Ballot, Vote, Votes, said};
