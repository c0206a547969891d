//! Typed, zero-overhead concurrent plans on tokio.
//!
//! Write a plan inline with [`plan!`] — sequences (`>>`), parallel groups with policies
//! (`par`, `each`), branching (`choose`), lens-focused state (`focus`), bounded loops
//! (`loop`), deadlines (`#[timeout]`), retries (`#[retry]`) and hedged calls (`#[hedge]`) —
//! and get back a value that implements [`Plan`]: typed end to end, `Send + Sync`, reusable,
//! and compiled to a tree of the plain async combinators in [`nodes`]. The [`reference`](mod@reference) page describes
//! the whole language: its grammar, every construct's types and semantics, attributes,
//! running, cancellation, errors and graphs.
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
//! A plan with a deadline, a focused part of the state and a bounded loop:
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! #[derive(Clone, Default, Lens)]
//! struct Draft { text: String, passes: u32 }
//!
//! fn start(topic: &str) -> Draft { Draft { text: topic.to_uppercase(), passes: 0 } }
//! async fn outline(d: Draft) -> Draft { d }
//! fn trim(text: String) -> String { text.trim().to_owned() }
//! fn revise(mut d: Draft) -> Draft { d.passes += 1; d }
//!
//! let writer = plan! {
//!     #![name = "writer"]
//!     start
//!     >> #[timeout(1s)] outline
//!     >> focus(Draft::text) { trim }
//!     >> loop(until = (|d: &Draft| d.passes == 2), max = 5) { revise }
//! };
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! let draft = rt.block_on(writer.run(" plans ")).unwrap();
//! assert_eq!((draft.text.as_str(), draft.passes), ("PLANS", 2));
//! ```
//!
//! A dependency graph of bindings: each binding starts as soon as the bindings it
//! reads are done (`summary` does not wait for `translation`):
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! fn fetch(url: &str) -> String { format!("<p>{url}</p>") }
//! fn text(html: String) -> String { html.replace("<p>", "").replace("</p>", "") }
//! fn links(html: String) -> usize { html.matches("://").count() }
//! async fn translate(text: String) -> String { text.to_uppercase() }
//! fn summarize((text, links): (String, usize)) -> String { format!("{text} ({links} links)") }
//!
//! let page = plan! {
//!     let html = fetch;
//!     let body = html >> text;
//!     let n = html >> links;
//!     let summary = (body, n) >> summarize;
//!     let translation = body >> translate;
//!     (summary, translation)
//! };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let (summary, translation) = rt.block_on(page.run("https://a.b")).unwrap();
//! assert_eq!((summary.as_str(), translation.as_str()), ("https://a.b (1 links)", "HTTPS://A.B"));
//! ```
//!
//! # What runs where
//!
//! Branches run concurrently *inside the task that runs the plan* — nothing is spawned
//! except `blocking(..)` steps. Dropping a run's future drops every branch with it, and
//! combinators that cancel work (`first`, deadlines, fail-fast `all`) drop it before they
//! return. See the README for the language tour.
//!
//! # Plans as values
//!
//! A plan is an ordinary value: `Send + Sync`, run through `&self`, and `Clone` when its steps
//! are. Its type is unnameable, as a closure's is; where a type must be written, write
//! `impl Plan<..>` or erase it into a [`BoxPlan`]. A `Box`, `Arc` or `&` of a plan is a plan
//! too, and a step of `plan!` as it is.
//!
//! Return one from a function with `impl Plan<In, Ctx, Out = ..>` (no cost at all):
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! struct Config { greeting: &'static str }
//! fn greet(name: String, cfg: &Config) -> String { format!("{}, {name}", cfg.greeting) }
//! fn shout(text: String) -> String { text.to_uppercase() }
//!
//! fn greeter() -> impl Plan<String, Config, Out = String> + Clone {
//!     plan! { greet >> shout }
//! }
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let cfg = Config { greeting: "hello" };
//! assert_eq!(rt.block_on(greeter().run("ada".into()).ctx(&cfg)).unwrap(), "HELLO, ADA");
//! ```
//!
//! Share one in an `Arc`, across tasks and as a step of other plans, without copying it:
//!
//! ```
//! use std::sync::Arc;
//! use plan_runtime::prelude::*;
//!
//! fn double(x: u64) -> u64 { x * 2 }
//! fn add_one(x: u64) -> u64 { x + 1 }
//!
//! let shared = Arc::new(plan! { double >> add_one });
//! let outer = plan! { add_one >> (Arc::clone(&shared)) };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let tasks: Vec<_> = (0..3)
//!     .map(|i| {
//!         let plan = Arc::clone(&shared);
//!         tokio::spawn(async move { plan.run(i).await })
//!     })
//!     .collect();
//! let mut outs = Vec::new();
//! for task in tasks {
//!     outs.push(task.await.unwrap().unwrap());
//! }
//! assert_eq!(outs, [1, 3, 5]);
//! assert_eq!(outer.run(1).await.unwrap(), 5);
//! # });
//! ```
//!
//! Keep one in a struct, as a type parameter (no cost) or as a [`BoxPlan`] (no parameter):
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! fn parse(line: String) -> u64 { line.trim().parse().unwrap_or(0) }
//! fn square(n: u64) -> u64 { n * n }
//!
//! struct Service<P> { pipeline: P }
//!
//! impl<P: Plan<String, Out = u64>> Service<P> {
//!     async fn handle(&self, line: String) -> Result<u64, PlanError> {
//!         self.pipeline.run(line).await
//!     }
//! }
//!
//! struct Erased { pipeline: BoxPlan<String, u64> }
//!
//! let service = Service { pipeline: plan! { parse >> square } };
//! let erased = Erased { pipeline: plan! { parse >> square }.boxed() };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! assert_eq!(rt.block_on(service.handle(" 7 ".into())).unwrap(), 49);
//! assert_eq!(rt.block_on(erased.pipeline.run("8".into())).unwrap(), 64);
//! ```
//!
//! Put plans of different types in one `Vec`:
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! fn double(x: u64) -> u64 { x * 2 }
//! fn add_one(x: u64) -> u64 { x + 1 }
//!
//! let stages: Vec<BoxPlan<u64, u64>> = vec![
//!     plan! { double }.boxed(),
//!     plan! { add_one >> double }.boxed(),
//! ];
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let mut x = 1;
//! for stage in &stages {
//!     x = stage.run(x).await.unwrap();
//! }
//! assert_eq!(x, 6);
//! # });
//! ```
//!
//! Look them up by name in a registry; a `BoxPlan` is cheap to clone out of it (the plan is
//! shared), and nests in other plans with its nodes still named:
//!
//! ```
//! use std::collections::HashMap;
//! use plan_runtime::prelude::*;
//!
//! fn trim(text: String) -> String { text.trim().to_owned() }
//! fn upper(text: String) -> String { text.to_uppercase() }
//! fn nonempty(text: String) -> Result<String, &'static str> {
//!     if text.is_empty() { Err("empty") } else { Ok(text) }
//! }
//!
//! let mut registry: HashMap<String, BoxPlan<String, String>> = HashMap::new();
//! registry.insert("clean".into(), plan! { trim >> nonempty }.boxed());
//! registry.insert("shout".into(), plan! { upper }.boxed());
//!
//! let clean = registry["clean"].clone();
//! let both = plan! { clean >> (registry["shout"].clone()) };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! assert_eq!(rt.block_on(both.run(" hi ".into())).unwrap(), "HI");
//! let err = rt.block_on(both.run("  ".into())).unwrap_err();
//! assert_eq!((err.node().name, err.node().path.as_str()), ("nonempty", "0/1"));
//! ```
//!
//! Return one from a trait method, so that implementations (and trait objects) each build
//! their own plan:
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! trait Stage {
//!     fn plan(&self) -> BoxPlan<u64, u64>;
//! }
//!
//! struct Scale(u64);
//! impl Stage for Scale {
//!     fn plan(&self) -> BoxPlan<u64, u64> {
//!         let by = self.0;
//!         plan! { (move |x: u64| x * by) }.boxed()
//!     }
//! }
//!
//! struct Offset(u64);
//! impl Stage for Offset {
//!     fn plan(&self) -> BoxPlan<u64, u64> {
//!         let by = self.0;
//!         plan! { (move |x: u64| x + by) }.boxed()
//!     }
//! }
//!
//! let stages: Vec<Box<dyn Stage>> = vec![Box::new(Scale(10)), Box::new(Offset(2))];
//! let (scale, offset) = (stages[0].plan(), stages[1].plan());
//! let pipeline = plan! { scale >> offset };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! assert_eq!(rt.block_on(pipeline.run(4)).unwrap(), 42);
//! ```
//!
//! A [`BoxPlan`] costs one allocation and one dynamic call per run (tens of nanoseconds,
//! measured in `plan-runtime/benches/constructs.rs`), and describes itself, fails and reports as the plan
//! inside.
//!
//! # Seeing runs
//!
//! A run awaited with [`.reported()`](Run::reported) gives a [`report::RunReport`] with its
//! result: every node's start, end, attempts and outcome, the
//! concurrency achieved and every parallel group's barrier wait, as a text timeline or a
//! Chrome trace for Perfetto. [`report::Recorder::with_events`] streams progress events.
//!
//! [`eval`] runs a plan over a dataset of cases, scores and times each and sums what its
//! run report counted (tokens, dollars), writes the results as CSV and Markdown, and compares
//! two plans side by side.
//!
//! # Tracing
//!
//! Every node runs in a `tracing` span, made on the node's first poll (so spans nest as nodes
//! do, and a branch that never starts makes none) and only when DEBUG is enabled — as the plan
//! starts: a plan checks once, not at every node, so a subscriber that starts wanting DEBUG
//! in the middle of a run sees the nodes of the plans that start after that:
//!
//! * name `plan.node`, level DEBUG, target `plan_runtime::node`;
//! * field `name`: the node's name (`#[name = ".."]`, else the step's source text or the
//!   construct's keyword);
//! * field `kind`: `plan`, `step`, `blocking`, `seq`, `par`, `each`, `choose`, `focus` or
//!   `loop`;
//! * field `path`: the node's child indices within its plan, joined by `/` (`""` for the root);
//! * field `policy`: a `par`/`each` policy as written (`"n_best(2, by = score)"`), else `""`.
//!
//! A retry logs a DEBUG event with fields `attempt` and `error` inside the node's span, and so
//! does a hedge as it starts (`attempt`) and a hedged attempt that fails (`attempt`, `error`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod arity;
mod bindings;
mod blocking;
pub mod budget;
mod choose;
mod cut_off;
mod durable;
mod each;
pub mod eval;
mod focus;
mod group;
mod hedge;
pub mod layer;
mod node;
mod par;
pub mod policy;
#[doc = include_str!("reference.md")]
pub mod reference {}
mod loops;
pub mod report;
mod retry;
pub mod run;
mod seq;
pub mod step;
mod timeout;
// Not public API: the checks `plan!`'s expansion type-checks a plan with (explained in
// `reference.md`, "How the types are checked"), public only for the macro's paths.
#[doc(hidden)]
pub mod wiring;

pub use plan_core::{
    Ballot, BoxPlan, Cx, Describe, Edge, Ended, Entry, Extensions, FnLens, GraphBuilder, GraphNode,
    HedgeDelay, HedgeInfo, Journal, Label, Lens, Location, Monitor, NodeInfo, NodeKind, NodeRef,
    ParallelSpec, Plan, PlanError, PlanGraph, PolicyKind, RetryInfo, Scope, StepError, Then, Vote,
    Votes, lens,
};
/// Derives a lens per named field: `Type::field` focuses on that field (see [`Lens`](trait@Lens)).
pub use plan_macros::Lens;

/// Builds a plan from the plan language: items joined by `>>`, each a step or a construct.
///
/// | write | input → output |
/// |---|---|
/// | `parse`, `tools::search`, `search(Engine::Web)`, `(\|q: Query\| ..)`, `blocking(f)`, a plan | a step: sync or async fn, fallible or not, optionally taking `&Ctx` second |
/// | `a >> b`, `seq { a >> b }` | `A -> C` |
/// | `par(all) { a, b }` / `par { .. }` | `I -> (A, B)`; the first error cancels the rest |
/// | `par(settled) { a, b }` | `I -> (Result<A, PlanError>, Result<B, PlanError>)` |
/// | `par(first)` / `par(first_completed)` | `I -> O`: first success / first to finish |
/// | `par(n_best(n, by = score))` / `par(best(by = score))` | `I -> Vec<O>` / `I -> O` |
/// | `par(quorum(k))` / `par(quorum(k, by = key))` | `I -> Quorum<O>`: the first `k` successes that agree |
/// | `each(POLICY, limit = k) { step }` | `impl IntoIterator<Item = T> -> Vec<U>` (per policy, as `par`) |
/// | `choose { if p => a, else => b }`, `choose(router) { Pat => a, _ => b }` | `I -> O` |
/// | `focus(Type::field) { body }` | `S -> S`; `body: T -> T`, `T: Default` (moved out, put back) |
/// | `loop(while = p \| until = p, max = n[, on_limit = stop]) { body }` | `S -> S` |
/// | `let a = f; let b = a >> g; let c = a >> h; (b, c) >> j` | a dependency graph: each binding starts when its sources are ready |
///
/// Group options: `par(POLICY, timeout = 2s, limit = 4)`. Attributes on any item, outermost
/// first: `#[timeout(250ms)]`, `#[retry(3, backoff = 100ms)]`, `#[hedge(after = 50ms)]` (or
/// `after = p95`, `max = 2`, `share = 5%`), `#[layer(cache)]` (any
/// [`layer::Layer`]), `#[name = "publish"]`, and
/// `#[durable]` (journaled in a durable run, always outermost); and `#![name = "plan"]` and
/// `#![durable]` (every step durable) first in the plan. A plan's body, or a `seq { .. }`, may be a block of
/// `let` bindings ending in an output, each read by the bindings below it (a tuple of names
/// reads several); see [`reference`](mod@reference#bindings-and-dependency-graphs).
/// Durations are `10us`, `250ms`, `1.5s`, `1m`, `1h`,
/// or any `Duration` expression. Closures (steps, predicates, scores, routers) go in
/// parentheses with typed parameters: `(|n: &u32| *n > 3)`.
///
/// The expansion is a value implementing [`Plan`]: run it with
/// [`plan.run(input)`](PlanExt::run), configured as a [`Run`]. A step that does not fit its input is a
/// compile error on that step (see [how the types are checked](mod@reference#how-the-types-are-checked)); a malformed plan is an error with a hint. The
/// crate documentation has a runnable example; the [`reference`](mod@reference) page has the
/// full language.
pub use plan_macros::plan;
pub use run::{PlanExt, Run};
pub use tokio_util::sync::CancellationToken;

/// The combinators `plan!` expands to — the typed AST of a plan. Use them directly to build
/// plans by hand (with [`step!`] for leaves): this is `plan! { parse >> par(all) { double,
/// square } }` written out.
///
/// ```
/// use plan_runtime::nodes::{leaf, node, par, root, seq};
/// use plan_runtime::policy::All;
/// use plan_runtime::{step, NodeInfo, NodeKind, PlanExt};
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
    pub use crate::cut_off::CutOff;
    pub use crate::durable::{Durable, durable};
    pub use crate::each::{Each, each};
    pub use crate::focus::{Focus, focus};
    pub use crate::group::{Branches, GroupPolicy, ParallelPolicy, Uniform};
    pub use crate::hedge::{Hedge, hedge};
    pub use crate::loops::{Check, Loop, OnLimit, r#loop};
    pub use crate::node::{Leaf, Nested, Node, Root, leaf, node, root};
    pub use crate::par::{Par, par};
    pub use crate::retry::{Retry, retry};
    pub use crate::seq::{Seq, seq};
    pub use crate::timeout::{Timeout, timeout};
}

/// `use plan_runtime::prelude::*;` brings in what plans are written with.
pub mod prelude {
    pub use crate::nodes::blocking;
    pub use crate::policy::Quorum;
    pub use crate::{
        BoxPlan, CancellationToken, Describe, Lens, ParallelSpec, Plan, PlanError, PlanExt, lens,
        plan,
    };
    pub use std::time::Duration;
}

/// Not public API: what `plan!` and `#[derive(Lens)]` expand to, besides [`nodes`].
#[doc(hidden)]
pub mod __private {
    pub mod bindings {
        pub use crate::bindings::*;
    }
    pub mod classify {
        pub use crate::step::classify::*;
    }
    pub use crate::wiring::LensOf;
    pub use plan_core::{Lens, NodeInfo, NodeKind};
}
