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
    /// `let name = sources >> ..;`: one binding of a block.
    Let,
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
            NodeKind::Let => "let",
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

    /// What reports call the node; see [`Label`].
    ///
    /// ```
    /// use plan_core::{NodeInfo, NodeKind};
    /// static PAR: NodeInfo = NodeInfo { name: "par", kind: NodeKind::Par, path: "1",
    ///     source: "par(all) { a, b }", policy: Some("all"), file: "src/bin/research.rs",
    ///     line: 57, column: 9 };
    /// assert_eq!(PAR.label().to_string(), "par(all) at research.rs:57");
    /// ```
    pub fn label(&self) -> Label {
        Label::new(self.name, self.kind, self.policy, self.location())
    }
}

/// What a node is called in run reports (timeline rows, trace events, progress events): its
/// name, except for a construct without `#[name = ".."]`, which is called by its keyword, its
/// policy as written and the file name and line where it is written —
/// `par(all) at research.rs:57` — since its keyword alone (`par`) does not say which one it is.
///
/// A construct is taken to be unnamed when its name is its keyword, which is what `plan!`
/// gives it; steps and plans always go by their names. Errors name nodes with [`NodeRef`]'s `Display`,
/// which shows the label without its location (`par(all)`), followed by the full location.
///
/// ```
/// use plan_core::{Label, Location, NodeKind};
/// let at = Location { file: "examples/research/main.rs", line: 66, column: 12 };
/// let unnamed = Label::new("par", NodeKind::Par, Some("n_best(2, by = score)"), at);
/// assert_eq!(unnamed.to_string(), "par(n_best(2, by = score)) at main.rs:66");
/// assert!(!unnamed.is_named());
/// let named = Label::new("drafts", NodeKind::Par, Some("n_best(2, by = score)"), at);
/// assert_eq!(named.to_string(), "drafts");
/// let step = Label::new("fetch", NodeKind::Step, None, at);
/// assert_eq!(step.to_string(), "fetch");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    name: &'static str,
    kind: NodeKind,
    policy: Option<&'static str>,
    location: Location,
}

impl Label {
    /// The label of a node with this name, kind, policy and location.
    pub const fn new(
        name: &'static str,
        kind: NodeKind,
        policy: Option<&'static str>,
        location: Location,
    ) -> Self {
        Label {
            name,
            kind,
            policy,
            location,
        }
    }

    /// Whether the node goes by its name: a step, a plan's root (one per run, or under the
    /// step that nests it), or a construct with `#[name = ".."]`.
    pub fn is_named(&self) -> bool {
        matches!(
            self.kind,
            NodeKind::Step | NodeKind::Blocking | NodeKind::Plan
        ) || self.name != self.kind.as_str()
    }

    /// The label without its location: the name, or the keyword and policy (`par(all)`).
    fn write_title(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.policy {
            _ if self.is_named() => f.write_str(self.name),
            Some(policy) => write!(f, "{}({policy})", self.kind),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_title(f)?;
        // A node built by hand has no location to tell it by.
        if !self.is_named() && self.location.line != 0 {
            write!(
                f,
                " at {}:{}",
                self.location.file_name(),
                self.location.line
            )?;
        }
        Ok(())
    }
}

/// As its `Display`: reports serialize nodes' labels as text.
impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
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

impl Location {
    /// The file's name without its directories: `main.rs` for `examples/research/main.rs`.
    ///
    /// ```
    /// use plan_core::Location;
    /// let at = Location { file: "examples/research/main.rs", line: 57, column: 9 };
    /// assert_eq!(at.file_name(), "main.rs");
    /// ```
    pub fn file_name(&self) -> &'static str {
        // `file!()` separates directories with `\` on Windows.
        self.file.rsplit(['/', '\\']).next().unwrap_or(self.file)
    }
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
///
/// A construct without `#[name = ".."]` is shown by its keyword and policy (see [`Label`]):
///
/// ```
/// # use plan_core::{NodeInfo, NodeKind, NodeRef};
/// # static PAR: NodeInfo = NodeInfo { name: "par", kind: NodeKind::Par, path: "2",
/// #     source: "par(all) { .. }", policy: Some("all"), file: "src/main.rs", line: 40, column: 8 };
/// let node = NodeRef::from_info(&PAR);
/// assert_eq!(node.to_string(), "`par(all)` (par at 2, src/main.rs:40:8)");
/// assert_eq!(node.label().to_string(), "par(all) at main.rs:40");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRef {
    /// The node's name.
    pub name: &'static str,
    /// The node's kind.
    pub kind: NodeKind,
    /// The parallel policy as written, for `par` and `each`.
    pub policy: Option<&'static str>,
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
            policy: info.policy,
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

    /// What reports call this node; see [`Label`].
    pub fn label(&self) -> Label {
        Label::new(self.name, self.kind, self.policy, self.location)
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
        f.write_str("`")?;
        self.label().write_title(f)?;
        write!(f, "` ({} at {}, {})", self.kind, path, self.location)
    }
}
