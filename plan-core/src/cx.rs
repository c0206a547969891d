//! The run context handed to every node: the user's context, and which node is running.

use crate::extensions::Extensions;
use crate::monitor::Monitor;
use crate::node::{NodeInfo, NodeKind};

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
    // A thin reference (to a fat one): the unmonitored common case stays one word.
    monitor: Option<&'a &'a dyn Monitor>,
    extensions: Option<&'a Extensions<'a>>,
}

/// One enclosing nested-plan step, for full error paths. Lives on the stack of the nested
/// step's future; see [`Cx::nested`].
#[derive(Debug)]
pub struct Scope<'a> {
    node: &'static NodeInfo,
    outer: Option<&'a Scope<'a>>,
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
    /// The context of a run that starts here, over the user's context `ctx`.
    pub fn root(ctx: &'a C) -> Self {
        Cx {
            ctx,
            node: &ANONYMOUS,
            outer: None,
            monitor: None,
            extensions: None,
        }
    }

    /// The same context, with every node of the run reporting to `monitor`.
    pub fn monitored(self, monitor: &'a &'a dyn Monitor) -> Self {
        Cx {
            monitor: Some(monitor),
            ..self
        }
    }

    /// The monitor watching this run, if any. (A reference to a reference, so that it is one
    /// word wherever it is kept.)
    pub fn monitor(&self) -> Option<&'a &'a dyn Monitor> {
        self.monitor
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

    /// Opens a scope for a plan nested as a step inside another: the current node becomes part
    /// of the path of every node inside. `scope` must be made with [`Cx::scope`].
    pub fn nested<'b>(&self, scope: &'b Scope<'b>) -> Cx<'b, C>
    where
        'a: 'b,
    {
        Cx {
            ctx: self.ctx,
            node: self.node,
            outer: Some(scope),
            monitor: self.monitor,
            extensions: self.extensions,
        }
    }

    /// The scope value to pass to [`Cx::nested`] (kept by the caller so it outlives the child).
    pub fn scope(&self) -> Scope<'a> {
        Scope {
            node: self.node,
            outer: self.outer,
        }
    }

    /// Paths of the enclosing nested-plan steps, innermost first.
    pub(crate) fn outer_paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::successors(self.outer, |s| s.outer).map(|s| s.node.path)
    }
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
