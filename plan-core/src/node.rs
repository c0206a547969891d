//! Node identity: what the `plan!` macro records about every node, and how a failing
//! node is named in errors.

use std::fmt;

use serde::Serialize;

use crate::Cx;

/// What kind of construct a plan node is.
///
/// ```
/// use plan_core::NodeKind;
/// assert_eq!(NodeKind::Par.as_str(), "par");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeKind {
    /// The root of a `plan!`.
    Plan,
    /// A leaf: a function, closure or nested plan.
    Step,
    /// A `blocking(f)` leaf, run on tokio's blocking pool.
    Blocking,
    /// `seq { .. }`.
    Seq,
    /// `par(POLICY) { .. }`.
    Par,
    /// `each(POLICY) { .. }`.
    Each,
    /// `choose { if .. }` or `choose(router) { Pat => .. }`.
    Choose,
    /// `focus(lens) { .. }`.
    Focus,
    /// `loop(while|until = p, max = n) { .. }`.
    Loop,
}

impl NodeKind {
    /// The keyword users write for this kind (`"step"` for leaves, `"plan"` for the root).
    pub const fn as_str(self) -> &'static str {
        match self {
            NodeKind::Plan => "plan",
            NodeKind::Step => "step",
            NodeKind::Blocking => "blocking",
            NodeKind::Seq => "seq",
            NodeKind::Par => "par",
            NodeKind::Each => "each",
            NodeKind::Choose => "choose",
            NodeKind::Focus => "focus",
            NodeKind::Loop => "loop",
        }
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Static facts about one node of a plan, written by the `plan!` macro.
///
/// Every node of a `plan!` gets one `&'static NodeInfo`; it costs nothing at run time.
///
/// ```
/// use plan_core::{NodeInfo, NodeKind};
/// static INFO: NodeInfo = NodeInfo {
///     name: "fetch",
///     kind: NodeKind::Step,
///     path: "1",
///     source: "fetch",
///     policy: None,
///     file: "src/main.rs",
///     line: 12,
///     column: 9,
/// };
/// assert_eq!(INFO.location().to_string(), "src/main.rs:12:9");
/// ```
#[derive(Debug, Serialize)]
pub struct NodeInfo {
    /// The node's name: `#[name = ".."]` if given, else the step's source text or the keyword.
    pub name: &'static str,
    /// The construct.
    pub kind: NodeKind,
    /// Position in the plan: child indices joined by `/` (`"2/0"` is the first branch of the
    /// third item). The root is `""`.
    pub path: &'static str,
    /// The node's source text as written (shortened for large constructs).
    pub source: &'static str,
    /// The parallel policy as written (`"n_best(2, by = score)"`), for `par` and `each`.
    pub policy: Option<&'static str>,
    /// Source file of the `plan!`.
    pub file: &'static str,
    /// 1-based line of the node in `file`.
    pub line: u32,
    /// 1-based column of the node in `file`.
    pub column: u32,
}

impl NodeInfo {
    /// The identity of a node built by hand (not by `plan!`): no policy, no source location.
    ///
    /// ```
    /// use plan_core::{NodeInfo, NodeKind};
    /// static FETCH: NodeInfo = NodeInfo::new("fetch", NodeKind::Step, "1");
    /// assert_eq!((FETCH.name, FETCH.path), ("fetch", "1"));
    /// ```
    pub const fn new(name: &'static str, kind: NodeKind, path: &'static str) -> Self {
        NodeInfo {
            name,
            kind,
            path,
            source: name,
            policy: None,
            file: "<built by hand>",
            line: 0,
            column: 0,
        }
    }

    /// The same node, with its source text as written (`new` uses the name).
    ///
    /// This and [`NodeInfo::policy`] and [`NodeInfo::at`] are what `plan!` writes, one line
    /// per node:
    ///
    /// ```
    /// use plan_core::{NodeInfo, NodeKind};
    /// const PAR: NodeInfo = NodeInfo::new("par", NodeKind::Par, "1")
    ///     .source("par(all) { a, b }")
    ///     .policy("all")
    ///     .at("src/main.rs", 12, 9);
    /// assert_eq!((PAR.policy, PAR.location().to_string().as_str()), (Some("all"), "src/main.rs:12:9"));
    /// ```
    pub const fn source(self, source: &'static str) -> Self {
        NodeInfo { source, ..self }
    }

    /// The same node, with the parallel policy as written (`par` and `each`).
    pub const fn policy(self, policy: &'static str) -> Self {
        NodeInfo {
            policy: Some(policy),
            ..self
        }
    }

    /// The same node, written at `file:line:column`.
    pub const fn at(self, file: &'static str, line: u32, column: u32) -> Self {
        NodeInfo {
            file,
            line,
            column,
            ..self
        }
    }

    /// Where the node is written.
    pub fn location(&self) -> Location {
        Location {
            file: self.file,
            line: self.line,
            column: self.column,
        }
    }
}

/// A place in source code: `file:line:column`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    /// Source file, as `file!()` gives it.
    pub file: &'static str,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The identity of a node as it appears in a [`PlanError`](crate::PlanError): its name, its
/// full path from the outermost plan that ran (through nested plans), and where it is written.
///
/// ```
/// # use plan_core::{NodeInfo, NodeKind, NodeRef};
/// # static INFO: NodeInfo = NodeInfo { name: "fetch", kind: NodeKind::Step, path: "1",
/// #     source: "fetch", policy: None, file: "src/main.rs", line: 12, column: 9 };
/// let node = NodeRef::from_info(&INFO);
/// assert_eq!(node.to_string(), "`fetch` (step at 1, src/main.rs:12:9)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRef {
    /// The node's name.
    pub name: &'static str,
    /// The node's kind.
    pub kind: NodeKind,
    /// Full path: the paths of enclosing nested-plan steps, then the node's own, joined by `/`.
    pub path: String,
    /// Where the node is written.
    pub location: Location,
}

impl NodeRef {
    /// Names a node by its static info alone (no enclosing plans).
    pub fn from_info(info: &'static NodeInfo) -> Self {
        NodeRef {
            name: info.name,
            kind: info.kind,
            path: info.path.to_owned(),
            location: info.location(),
        }
    }

    /// Names the node `cx` is running, with its full path through nested plans.
    pub fn current<C>(cx: &Cx<'_, C>) -> Self {
        NodeRef::within(cx, cx.node())
    }

    /// Names `node`, a node of the same plan as the one `cx` is running, with its full path.
    pub fn within<C>(cx: &Cx<'_, C>, node: &'static NodeInfo) -> Self {
        let mut segments: Vec<&'static str> = cx.outer_paths().collect();
        segments.reverse();
        segments.push(node.path);
        NodeRef {
            path: join_path(&segments),
            ..NodeRef::from_info(node)
        }
    }
}

/// Joins path segments with `/`, skipping empty ones (a plan's root has the empty path).
pub(crate) fn join_path(segments: &[&str]) -> String {
    let mut path = String::new();
    for segment in segments.iter().filter(|s| !s.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(segment);
    }
    path
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "root"
        } else {
            &self.path
        };
        write!(
            f,
            "`{}` ({} at {}, {})",
            self.name, self.kind, path, self.location
        )
    }
}
