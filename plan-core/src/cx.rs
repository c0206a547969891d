//! The run context handed to every node: the user's context, and which node is running.

use std::sync::Arc;

use crate::extensions::Extensions;
use crate::journal::{Entry, Journal};
use crate::monitor::{Ended, Monitor};
use crate::node::{NodeInfo, NodeKind, NodeRef};

/// What a node receives besides its input: the user's shared context (`&Ctx`: clients,
/// configuration) and the identity of the node being run, so that errors and traces can name it.
///
/// `Cx` is five words and `Copy`; combinators pass it down unchanged, and the node wrapper the
/// `plan!` macro puts around every node sets [`Cx::node`]. A run that is being reported on
/// also carries its [`Monitor`], and a run may carry [`Extensions`] for the tools inside it.
///
/// ```
/// use plan_core::Cx;
/// let cx = Cx::root(&42);
/// assert_eq!(*cx.ctx(), 42);
/// assert_eq!(cx.node().name, "plan");
/// ```
pub struct Cx<'a, C> {
    ctx: &'a C,
    node: &'static NodeInfo,
    outer: Option<&'a Scope<'a>>,
    // The run's monitor, or `UNMONITORED` if the run has none but its nodes are observed, or
    // `None` if they are not: a node nobody watches tests this one word. A thin reference (to
    // a fat one), so that it is one word.
    observer: Option<&'a &'a dyn Monitor>,
    extensions: Option<&'a Extensions<'a>>,
}

/// One enclosing nested-plan step, for full error paths, or one pass of a `loop` or item of
/// an `each`, for the journal keys of durable runs. Lives on the stack of the future it
/// encloses; see [`Cx::nested`].
#[derive(Debug)]
pub struct Scope<'a> {
    node: &'static NodeInfo,
    // `Some(n)` for the `n`-th pass or item (from 0), which is not part of error paths.
    pass: Option<usize>,
    outer: Option<&'a Scope<'a>>,
}

/// The observer of a run that is observed but has no monitor: it ignores everything.
static UNMONITORED: &dyn Monitor = &Unmonitored;

/// See [`UNMONITORED`].
struct Unmonitored;

impl Monitor for Unmonitored {
    fn start(&self, _: &'static NodeInfo) -> usize {
        0
    }

    fn enter(&self, _: usize) {}

    fn leave(&self, _: usize) {}

    fn end(&self, _: usize, _: Ended<'_>) {}
}

/// The identity used before any node of a `plan!` is entered: a plan run directly, or a step
/// called outside a plan.
static ANONYMOUS: NodeInfo = NodeInfo {
    name: "plan",
    kind: NodeKind::Plan,
    path: "",
    source: "",
    policy: None,
    file: "<unknown>",
    line: 0,
    column: 0,
};

impl<'a, C> Cx<'a, C> {
    /// The context of a run that starts here, over the user's context `ctx`. Its nodes are
    /// [observed](Cx::observed) until a runtime decides otherwise.
    pub fn root(ctx: &'a C) -> Self {
        Cx {
            ctx,
            node: &ANONYMOUS,
            outer: None,
            observer: Some(&UNMONITORED),
            extensions: None,
        }
    }

    /// The same context, with every node of the run reporting to `monitor` (and so
    /// [observed](Cx::observed)).
    pub fn monitored(self, monitor: &'a &'a dyn Monitor) -> Self {
        Cx {
            observer: Some(monitor),
            ..self
        }
    }

    /// The monitor watching this run, if any. (A reference to a reference, so that it is one
    /// word wherever it is kept.)
    pub fn monitor(&self) -> Option<&'a &'a dyn Monitor> {
        self.observer
            .filter(|observer| !std::ptr::eq(*observer, &UNMONITORED))
    }

    /// Whether the nodes run under this context may be watched — by a [`Monitor`], or by
    /// whatever else a runtime reports to (`plan-runtime`: `tracing` spans) — and so must
    /// check. `false` lets a node skip all of that with one test. [`Cx::root`] and
    /// [`Cx::monitored`] make it `true`; a runtime that knows that nobody but the monitor is
    /// watching says so with [`Cx::observing`].
    ///
    /// ```
    /// use plan_core::Cx;
    /// let cx = Cx::root(&());
    /// assert!(cx.observed());
    /// assert!(!cx.observing(false).observed());
    /// ```
    pub fn observed(&self) -> bool {
        self.observer.is_some()
    }

    /// The same context, with its nodes [observed](Cx::observed) if `observed` or if it has a
    /// monitor.
    pub fn observing(self, observed: bool) -> Self {
        let observer = match self.monitor() {
            Some(monitor) => Some(monitor),
            None => observed.then_some(&UNMONITORED),
        };
        Cx { observer, ..self }
    }

    /// What the nodes run under this context report to, if they are
    /// [observed](Cx::observed): the run's [monitor](Cx::monitor), or one that ignores
    /// everything if it has none.
    pub fn observer(&self) -> Option<&'a &'a dyn Monitor> {
        self.observer
    }

    /// The same context, carrying `extensions` for every node of the run.
    pub fn extended(self, extensions: &'a Extensions<'a>) -> Self {
        Cx {
            extensions: Some(extensions),
            ..self
        }
    }

    /// The value of type `T` the run carries, if any (see [`Extensions`]).
    pub fn extension<T: std::any::Any>(&self) -> Option<&'a T> {
        self.extensions.and_then(Extensions::get)
    }

    /// The user's context.
    pub fn ctx(&self) -> &'a C {
        self.ctx
    }

    /// The node being run.
    pub fn node(&self) -> &'static NodeInfo {
        self.node
    }

    /// The same context, now running `node`.
    pub fn at(self, node: &'static NodeInfo) -> Self {
        Cx { node, ..self }
    }

    /// Opens `scope` for the nodes run inside it: made with [`Cx::scope`], for a plan nested as
    /// a step inside another (the current node becomes part of the path of every node
    /// inside), or with [`Cx::pass`], for one pass of a construct that runs its body many
    /// times (which tells the passes apart in a durable run's journal).
    pub fn nested<'b>(&self, scope: &'b Scope<'b>) -> Cx<'b, C>
    where
        'a: 'b,
    {
        Cx {
            ctx: self.ctx,
            node: self.node,
            outer: Some(scope),
            observer: self.observer,
            extensions: self.extensions,
        }
    }

    /// The scope value to pass to [`Cx::nested`] (kept by the caller so it outlives the child).
    pub fn scope(&self) -> Scope<'a> {
        Scope {
            node: self.node,
            pass: None,
            outer: self.outer,
        }
    }

    /// The scope of pass `index` (from 0) of the current node — a `loop`'s pass, an `each`'s
    /// item — to pass to [`Cx::nested`]. Nodes inside keep their paths; a durable run tells
    /// their outputs apart by pass (see [`Cx::entry`]).
    pub fn pass(&self, index: usize) -> Scope<'a> {
        Scope {
            node: self.node,
            pass: Some(index),
            outer: self.outer,
        }
    }

    /// The journal of the durable run this is part of, if any: the run carries it as an
    /// `Arc<dyn Journal>` among its [`Extensions`].
    pub fn journal(&self) -> Option<&'a dyn Journal> {
        self.extension::<Arc<dyn Journal>>()
            .map(|journal| &**journal)
    }

    /// The current node's entry in a durable run's journal: the node, and a key that tells it
    /// apart from every other node and from its own other passes in the run — its path, and
    /// every enclosing nested plan and `loop` pass or `each` item. (A `Plan` of your own that
    /// runs an inner plan twice under one `Cx` gives both runs the same keys: open a
    /// [`Cx::pass`] scope for each, as `loop` and `each` do.)
    ///
    /// ```
    /// use plan_core::{Cx, NodeInfo, NodeKind};
    /// static LOOP: NodeInfo = NodeInfo::new("loop", NodeKind::Loop, "1");
    /// static STEP: NodeInfo = NodeInfo::new("fetch", NodeKind::Step, "1/0");
    /// let root = Cx::root(&()).at(&LOOP);
    /// let third = root.pass(2);
    /// let cx = root.nested(&third).at(&STEP);
    /// assert_eq!(cx.entry().key, "1:2-1.0");
    /// assert_eq!(cx.entry().node.path, "1/0");
    /// ```
    pub fn entry(&self) -> Entry {
        let mut frames: Vec<&Scope<'_>> = std::iter::successors(self.outer, |s| s.outer).collect();
        frames.reverse();
        let mut key = String::new();
        for frame in frames {
            push_path(&mut key, frame.node.path);
            if let Some(pass) = frame.pass {
                key.push(':');
                key.push_str(&pass.to_string());
            }
            key.push('-');
        }
        push_path(&mut key, self.node.path);
        if key.is_empty() || key.ends_with('-') {
            key.push_str("root");
        }
        Entry {
            node: NodeRef::current(self),
            key,
        }
    }

    /// Paths of the enclosing nested-plan steps, innermost first.
    pub(crate) fn outer_paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::successors(self.outer, |s| s.outer)
            .filter(|s| s.pass.is_none())
            .map(|s| s.node.path)
    }
}

/// A node's path in a journal key: segments joined by `.`, so that a key is one segment of a
/// store key.
fn push_path(key: &mut String, path: &str) {
    key.extend(path.chars().map(|c| if c == '/' { '.' } else { c }));
}

impl<C> Clone for Cx<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Cx<'_, C> {}

impl<C> std::fmt::Debug for Cx<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("node", &self.node.name)
            .field("path", &self.node.path)
            .finish_non_exhaustive()
    }
}
