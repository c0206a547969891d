//! A plan described as a graph: nodes, dataflow edges, and Mermaid / DOT renderings.

use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::Serialize;

use crate::node::{Location, NodeInfo, NodeKind, join_path};
use crate::spec::ParallelSpec;

/// A plan's structure: one [`GraphNode`] per node of the `plan!` and the edges data flows
/// along. Serializable; render it with [`PlanGraph::to_mermaid`] or [`PlanGraph::to_dot`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlanGraph {
    /// Nodes, in the order they are written.
    pub nodes: Vec<GraphNode>,
    /// Dataflow edges between nodes.
    pub edges: Vec<Edge>,
}

/// One node of a [`PlanGraph`].
#[derive(Clone, Debug, Serialize)]
pub struct GraphNode {
    /// Index in [`PlanGraph::nodes`].
    pub id: usize,
    /// The construct.
    pub kind: NodeKind,
    /// `#[name]` or the source text.
    pub name: &'static str,
    /// The node's source text.
    pub source: &'static str,
    /// Full path (through nested plans).
    pub path: String,
    /// Where it is written.
    pub location: Location,
    /// The parallel policy as written (`n_best(2, by = score)`), for `par` and `each`.
    pub policy: Option<&'static str>,
    /// The parallel policy and options as evaluated, for `par` and `each`.
    pub parallel: Option<ParallelSpec>,
    /// `#[timeout(..)]`, if any.
    pub timeout: Option<Duration>,
    /// `#[retry(..)]`, if any.
    pub retry: Option<RetryInfo>,
    /// `#[hedge(..)]`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hedge: Option<HedgeInfo>,
    /// `#[durable]`: a durable run journals the node's output, and replays it when the run
    /// is run again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub durable: bool,
    /// The enclosing construct's node, if any.
    pub parent: Option<usize>,
}

/// A `#[retry(..)]` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RetryInfo {
    /// Attempts in all.
    pub attempts: u32,
    /// Base of the exponential backoff.
    pub backoff: Duration,
}

/// A `#[hedge(..)]` attribute: when a call that is slow gets another attempt beside it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HedgeInfo {
    /// How long a call runs before a hedge starts (and between hedges).
    pub after: HedgeDelay,
    /// At most this many hedges per call.
    pub max: u32,
    /// At most this share of calls is hedged (`0.05` for 5 %).
    pub share: f64,
    /// The shortest delay a percentile gives.
    pub min_delay: Duration,
    /// The longest delay a percentile gives; also the delay while too few latencies are
    /// known for a percentile (without it, no hedge starts then).
    pub max_delay: Option<Duration>,
}

/// The delay of a `#[hedge]`: fixed, or a percentile of the node's recent latencies.
///
/// ```
/// use plan_core::HedgeDelay;
/// use std::time::Duration;
/// assert_eq!(HedgeDelay::After(Duration::from_millis(50)).to_string(), "50ms");
/// assert_eq!(HedgeDelay::Percentile(0.95).to_string(), "p95");
/// assert_eq!(HedgeDelay::Percentile(0.999).to_string(), "p99.9");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HedgeDelay {
    /// A fixed delay (`after = 50ms`).
    After(Duration),
    /// This quantile (`0.95` for `after = p95`) of the node's recent latencies.
    Percentile(f64),
}

impl fmt::Display for HedgeDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HedgeDelay::After(after) => write!(f, "{after:?}"),
            // `{}` of an `f64` is its shortest exact form: 95, 99.9.
            HedgeDelay::Percentile(q) => write!(f, "p{}", (q * 1000.0).round() / 10.0),
        }
    }
}

/// A dataflow edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// Source node id.
    pub from: usize,
    /// Target node id.
    pub to: usize,
    /// What the edge means when it is not plain dataflow (`"again"` for a loop's back edge,
    /// the pattern or condition of a `choose` arm).
    pub label: Option<&'static str>,
}

/// Collects a [`PlanGraph`] while nodes describe themselves; see
/// [`Describe`](crate::Describe).
#[derive(Debug, Default)]
pub struct GraphBuilder {
    graph: PlanGraph,
    open: Vec<usize>,
    prefix: Vec<String>,
    pending_label: Option<&'static str>,
}

impl GraphBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node with edges from `preds`, inside the innermost open node.
    pub fn add(&mut self, info: &'static NodeInfo, preds: &[usize]) -> usize {
        let id = self.graph.nodes.len();
        let prefix = self.prefix.last().map_or("", String::as_str);
        self.graph.nodes.push(GraphNode {
            id,
            kind: info.kind,
            name: info.name,
            source: info.source,
            path: join_path(&[prefix, info.path]),
            location: info.location(),
            policy: info.policy,
            parallel: None,
            timeout: None,
            retry: None,
            hedge: None,
            durable: false,
            parent: self.open.last().copied(),
        });
        let label = self.pending_label.take();
        for &from in preds {
            self.edge(from, id, label);
        }
        id
    }

    /// Adds an edge.
    pub fn edge(&mut self, from: usize, to: usize, label: Option<&'static str>) {
        self.graph.edges.push(Edge { from, to, label });
    }

    /// Labels the edges into the next node added (a `choose` arm's condition).
    pub fn label_next(&mut self, label: &'static str) {
        self.pending_label = Some(label);
    }

    /// Makes `id` the enclosing node of the nodes added until [`GraphBuilder::close`].
    pub fn open(&mut self, id: usize) {
        self.open.push(id);
    }

    /// Closes the innermost open node.
    pub fn close(&mut self) {
        self.open.pop();
    }

    /// Prefixes the paths of nodes added until [`GraphBuilder::exit_plan`] with the innermost
    /// open node's path: used when a whole plan is nested as a step.
    pub fn enter_plan(&mut self) {
        let path = self
            .open
            .last()
            .map(|&id| self.graph.nodes[id].path.clone())
            .unwrap_or_default();
        self.prefix.push(path);
    }

    /// Ends [`GraphBuilder::enter_plan`].
    pub fn exit_plan(&mut self) {
        self.prefix.pop();
    }

    fn current(&mut self) -> Option<&mut GraphNode> {
        let id = *self.open.last()?;
        self.graph.nodes.get_mut(id)
    }

    /// Records the innermost open node's parallel policy and options.
    pub fn set_parallel(&mut self, spec: ParallelSpec) {
        if let Some(node) = self.current() {
            node.parallel = Some(spec);
        }
    }

    /// Records the innermost open node's deadline.
    pub fn set_timeout(&mut self, timeout: Duration) {
        if let Some(node) = self.current() {
            node.timeout = Some(timeout);
        }
    }

    /// Records the innermost open node's retry policy.
    pub fn set_retry(&mut self, retry: RetryInfo) {
        if let Some(node) = self.current() {
            node.retry = Some(retry);
        }
    }

    /// Records the innermost open node's hedging policy.
    pub fn set_hedge(&mut self, hedge: HedgeInfo) {
        if let Some(node) = self.current() {
            node.hedge = Some(hedge);
        }
    }

    /// Marks the innermost open node as journaled (`#[durable]`).
    pub fn set_durable(&mut self) {
        if let Some(node) = self.current() {
            node.durable = true;
        }
    }

    /// The finished graph.
    pub fn finish(self) -> PlanGraph {
        self.graph
    }
}

impl PlanGraph {
    /// Renders a Mermaid flowchart (paste into any Markdown that renders Mermaid).
    ///
    /// ```
    /// let graph = plan_core::PlanGraph::default();
    /// assert!(graph.to_mermaid().starts_with("flowchart TD"));
    /// ```
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        for node in &self.nodes {
            let _ = writeln!(
                out,
                "    n{}[\"{}\"]",
                node.id,
                escape(&node.label(), "#quot;")
            );
        }
        for edge in &self.edges {
            match edge.label {
                Some(label) => {
                    let _ = writeln!(
                        out,
                        "    n{} -->|\"{}\"| n{}",
                        edge.from,
                        escape(label, "#quot;"),
                        edge.to
                    );
                }
                None => {
                    let _ = writeln!(out, "    n{} --> n{}", edge.from, edge.to);
                }
            }
        }
        out
    }

    /// Renders Graphviz DOT (`dot -Tsvg`).
    ///
    /// ```
    /// let graph = plan_core::PlanGraph::default();
    /// assert!(graph.to_dot().starts_with("digraph plan {"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph plan {\n    node [shape=box];\n");
        for node in &self.nodes {
            let _ = writeln!(
                out,
                "    n{} [label=\"{}\"];",
                node.id,
                escape(&node.label(), "\\\"")
            );
        }
        for edge in &self.edges {
            match edge.label {
                Some(label) => {
                    let _ = writeln!(
                        out,
                        "    n{} -> n{} [label=\"{}\"];",
                        edge.from,
                        edge.to,
                        escape(label, "\\\"")
                    );
                }
                None => {
                    let _ = writeln!(out, "    n{} -> n{};", edge.from, edge.to);
                }
            }
        }
        out.push_str("}\n");
        out
    }
}

impl GraphNode {
    /// A one-line label: name, then kind-specific details.
    fn label(&self) -> String {
        let mut label = String::from(self.name);
        match self.kind {
            NodeKind::Step | NodeKind::Plan => {}
            kind => {
                if label != kind.as_str() {
                    let _ = write!(label, " · {kind}");
                }
            }
        }
        if let Some(policy) = self.policy {
            let _ = write!(label, " ({policy})");
        }
        if let Some(limit) = self.parallel.and_then(|spec| spec.limit) {
            let _ = write!(label, " ≤{limit}");
        }
        if let Some(timeout) = self.parallel.and_then(|spec| spec.timeout) {
            let _ = write!(label, " ⏱{timeout:?}");
        }
        if let Some(timeout) = self.timeout {
            let _ = write!(label, " ⏱{timeout:?}");
        }
        if let Some(retry) = self.retry {
            let _ = write!(label, " ↻{}", retry.attempts);
        }
        if let Some(hedge) = self.hedge {
            let _ = write!(label, " ⑂{}", hedge.after);
            if hedge.max > 1 {
                let _ = write!(label, "×{}", hedge.max);
            }
        }
        if self.durable {
            label.push_str(" · durable");
        }
        label
    }
}

fn escape(text: &str, quote: &str) -> String {
    text.replace('"', quote).replace('\n', " ")
}
