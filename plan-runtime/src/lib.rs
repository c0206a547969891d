//! Typed, zero-overhead concurrent plans on tokio.
//!
//! Write a plan inline with [`plan!`] — sequences (`>>`), parallel groups with policies
//! (`par`, `each`), branching (`choose`), lens-focused state (`focus`), bounded loops
//! (`loop`), deadlines (`#[timeout]`) and retries (`#[retry]`) — and get back a value that
//! implements [`Plan`]: typed end to end, `Send + Sync`, reusable, and compiled to a tree of
//! the plain async combinators in [`nodes`].
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! fn parse(text: String) -> u64 { text.trim().parse().unwrap_or(0) }
//! async fn square(n: u64) -> u64 { n * n }
//! async fn cube(n: u64) -> u64 { n * n * n }
//! fn total((a, b): (u64, u64)) -> u64 { a + b }
//!
//! let p = plan! { parse >> par(all) { square, cube } >> total };
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! assert_eq!(rt.block_on(p.run(" 3 ".to_string())).unwrap(), 9 + 27);
//! ```
//!
//! # What runs where
//!
//! Branches run concurrently *inside the task that runs the plan* — nothing is spawned
//! except `blocking(..)` steps. Dropping a run's future drops every branch with it, and
//! combinators that cancel work (`first`, deadlines, fail-fast `all`) drop it before they
//! return. See the README for the language tour.
//!
//! # Tracing
//!
//! Every node runs in a `tracing` span named `plan.node` at DEBUG level (target
//! `plan_runtime::node`) with fields `name`, `kind`, `path` and `policy`; retries log a DEBUG
//! event.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod blocking;
mod choose;
mod each;
mod focus;
mod gather;
mod node;
mod par;
pub mod policy;
mod repeat;
mod retry;
mod run;
mod seq;
pub mod step;
mod timeout;
pub mod wiring;

pub use plan_core::{
    Cx, Describe, Edge, FnLens, GraphBuilder, GraphNode, Lens, Location, NodeInfo, NodeKind,
    NodeRef, ParallelSpec, Plan, PlanError, PlanGraph, Policy, RetryInfo, Scope, StepError, Then,
    lens,
};
pub use plan_macros::{Lens, plan};
pub use run::Run;
pub use tokio_util::sync::CancellationToken;

/// The combinators `plan!` expands to — the typed AST of a plan. Use them directly to build
/// plans by hand (with [`step!`] for leaves): this is `plan! { parse >> par(all) { double,
/// square } }` written out.
///
/// ```
/// use plan_runtime::nodes::{leaf, node, par, root, seq};
/// use plan_runtime::policy::All;
/// use plan_runtime::{step, NodeInfo, NodeKind, Run};
///
/// fn parse(text: &'static str) -> u64 { text.parse().unwrap_or(0) }
/// async fn double(n: u64) -> u64 { n * 2 }
/// async fn square(n: u64) -> u64 { n * n }
///
/// static PLAN: NodeInfo = NodeInfo::new("by hand", NodeKind::Plan, "");
/// static PARSE: NodeInfo = NodeInfo::new("parse", NodeKind::Step, "0");
/// static PAR: NodeInfo = NodeInfo::new("par", NodeKind::Par, "1");
/// static DOUBLE: NodeInfo = NodeInfo::new("double", NodeKind::Step, "1/0");
/// static SQUARE: NodeInfo = NodeInfo::new("square", NodeKind::Step, "1/1");
///
/// let plan = root(
///     &PLAN,
///     seq((
///         leaf(&PARSE, step!(parse)),
///         node(&PAR, par(All, (leaf(&DOUBLE, step!(double)), leaf(&SQUARE, step!(square))))),
///     )),
/// );
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(plan.run("7")).unwrap(), (14, 49));
/// ```
pub mod nodes {
    pub use crate::blocking::{Blocking, blocking};
    pub use crate::choose::{Arm, Arms, IfElse, Route, RouteArms, arm, arms, if_else, route};
    pub use crate::each::{Each, each};
    pub use crate::focus::{Focus, focus};
    pub use crate::gather::{Gather, ParallelPolicy, Uniform};
    pub use crate::node::{Leaf, Nested, Node, Root, leaf, node, root};
    pub use crate::par::{Par, par};
    pub use crate::repeat::{Check, OnLimit, Repeat, repeat};
    pub use crate::retry::{Retry, retry};
    pub use crate::seq::{Seq, seq};
    pub use crate::timeout::{Timeout, timeout};
}

/// `use plan_runtime::prelude::*;` brings in what plans are written with.
pub mod prelude {
    pub use crate::nodes::blocking;
    pub use crate::{
        CancellationToken, Describe, Lens, ParallelSpec, Plan, PlanError, Run, lens, plan,
    };
    pub use std::time::Duration;
}

/// Not public API: what `plan!` and `#[derive(Lens)]` expand to, besides [`nodes`].
#[doc(hidden)]
pub mod __private {
    pub mod classify {
        pub use crate::step::classify::*;
    }
    pub use plan_core::{Lens, NodeInfo, NodeKind};
}
