//! The syntax tree of a `plan!` body, as parsed (see `parse.rs`) and before expansion.

use proc_macro2::Span;
use syn::{Expr, LitStr, Pat};

use crate::duration::DurationArg;

/// A whole `plan! { .. }`.
pub struct PlanBody {
    /// `#![name = ".."]`, naming the plan's root.
    pub name: Option<LitStr>,
    pub chain: Chain,
}

/// Items joined by `>>`.
pub struct Chain {
    pub items: Vec<Item>,
}

/// One item of a chain: attributes and a term.
pub struct Item {
    /// `#[timeout]` and `#[retry]`, outermost first.
    pub wrappers: Vec<Wrapper>,
    pub name: Option<LitStr>,
    pub term: Term,
    /// The item's first token, for locations and diagnostics.
    pub span: Span,
    /// Source text of the term.
    pub source: String,
}

pub enum Wrapper {
    Timeout(DurationArg),
    Retry {
        attempts: Box<Expr>,
        backoff: Option<DurationArg>,
    },
}

pub enum Term {
    /// A step: a path, a call, or `(expr)`.
    Step(Expr),
    /// `blocking(f)`.
    Blocking(Expr),
    /// `seq { chain }`.
    Seq(Chain),
    /// `par(POLICY, opts) { chain, .. }`.
    Par { group: Group, branches: Vec<Chain> },
    /// `each(POLICY, opts) { chain }`.
    Each { group: Group, body: Chain },
    /// `choose { if p => chain, .., else => chain }`.
    ChooseIf {
        arms: Vec<(Expr, String, Chain)>,
        otherwise: Chain,
    },
    /// `choose(router) { Pat => chain, .. }`.
    Route { router: Expr, arms: Vec<RouteArm> },
    /// `focus(lens) { chain }`.
    Focus { lens: Expr, body: Chain },
    /// `loop(while|until = p, max = n, on_limit = stop|error) { chain }`.
    Loop {
        until: bool,
        pred: Expr,
        max: Expr,
        stop_at_limit: bool,
        body: Chain,
    },
}

pub struct RouteArm {
    pub pat: Pat,
    pub guard: Option<Expr>,
    pub label: String,
    pub body: Chain,
}

/// A parallel policy and its options.
pub struct Group {
    pub policy: Policy,
    /// The policy as written, for node info.
    pub written: String,
    pub timeout: Option<DurationArg>,
    pub limit: Option<Expr>,
}

pub enum Policy {
    All,
    Settled,
    First,
    FirstCompleted,
    NBest { n: Box<Expr>, by: Box<Expr> },
    Best { by: Box<Expr> },
}
