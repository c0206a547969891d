//! The Chrome trace-event export, for Perfetto (<https://ui.perfetto.dev>) and
//! `chrome://tracing`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::record::{NodeRecord, RunReport};

/// A run in the Chrome trace-event format: serialize it to JSON (with `serde_json`) and open the
/// file in Perfetto or `chrome://tracing`.
///
/// Every node instance is a complete (`"ph": "X"`) event, timestamps in microseconds. Perfetto
/// draws the events of one thread as a stack of calls, so instances are spread over *lanes*
/// (trace threads): a node goes on its parent's lane when nothing but its ancestors is running
/// there, else on the first lane where that holds; concurrent branches end up side by side.
///
/// ```
/// use plan_runtime::prelude::*;
///
/// fn inc(x: u32) -> u32 { x + 1 }
/// let p = plan! { par(all) { inc, inc } };
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// # rt.block_on(async {
/// let (_, report) = p.run(1).reported().await;
/// let json = serde_json::to_value(report.chrome_trace()).unwrap();
/// let events = json["traceEvents"].as_array().unwrap();
/// assert!(events.iter().any(|e| e["ph"] == "X" && e["name"] == "inc"));
/// # });
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct ChromeTrace {
    /// The events.
    #[serde(rename = "traceEvents")]
    pub trace_events: Vec<TraceEvent>,
    /// How the viewer shows times (`"ms"`).
    #[serde(rename = "displayTimeUnit")]
    pub display_time_unit: &'static str,
}

/// One trace event: a node instance (`ph` = `"X"`) or a lane's name (`ph` = `"M"`).
#[derive(Clone, Debug, Serialize)]
pub struct TraceEvent {
    /// The node's label ([`NodeRecord::label`]), or `thread_name` for lane names.
    pub name: String,
    /// The node's kind (`step`, `par`, …); empty for lane names.
    pub cat: &'static str,
    /// The event type: `"X"` (complete) or `"M"` (metadata).
    pub ph: &'static str,
    /// Start, in microseconds from the start of the run.
    pub ts: u64,
    /// Duration in microseconds (complete events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dur: Option<u64>,
    /// Process id: always 1.
    pub pid: u32,
    /// The lane.
    pub tid: u32,
    /// Details: path, outcome, attempts, ids and source location; or the lane's name.
    pub args: TraceArgs,
}

/// The `args` of a trace event.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum TraceArgs {
    /// For a node instance.
    Instance {
        /// Its full path.
        path: String,
        /// How it ended.
        outcome: String,
        /// How many attempts it took.
        attempts: u32,
        /// Its id in the report.
        id: usize,
        /// Its parent's id.
        parent: Option<usize>,
        /// `file:line:column` of the node.
        location: String,
        /// The policy of a `par`/`each`.
        #[serde(skip_serializing_if = "Option::is_none")]
        policy: Option<&'static str>,
        /// What its tools counted (tokens, money, requests, retries), by name.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        counters: BTreeMap<&'static str, f64>,
        /// What was said of it (the worker a remote step ran on), by key.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        notes: BTreeMap<&'static str, String>,
    },
    /// For a lane's name.
    Lane {
        /// The name.
        name: String,
    },
}

impl RunReport {
    /// This run as Chrome trace events; see [`ChromeTrace`].
    pub fn chrome_trace(&self) -> ChromeTrace {
        let lanes = lanes(&self.nodes, self.wall);
        let lane_count = lanes.iter().copied().max().map_or(0, |l| l + 1);
        let names = (0..lane_count).map(|lane| TraceEvent {
            name: "thread_name".to_owned(),
            cat: "",
            ph: "M",
            ts: 0,
            dur: None,
            pid: 1,
            tid: tid(lane),
            args: TraceArgs::Lane {
                name: format!("lane {lane}"),
            },
        });
        let nodes = self.nodes.iter().zip(&lanes).map(|(node, &lane)| {
            let end = node.end.unwrap_or(self.wall);
            TraceEvent {
                name: node.label().to_string(),
                cat: node.kind.as_str(),
                ph: "X",
                // Both ends rounded the same way, so that a child never ends after its parent.
                ts: micros(node.start),
                dur: Some(micros(end).saturating_sub(micros(node.start))),
                pid: 1,
                tid: tid(lane),
                args: TraceArgs::Instance {
                    path: node.path.to_string(),
                    outcome: node.outcome.to_string(),
                    attempts: node.attempts,
                    id: node.id,
                    parent: node.parent,
                    location: node.location.to_string(),
                    policy: node.policy,
                    counters: node.counters.iter().copied().collect(),
                    notes: node.notes.iter().cloned().collect(),
                },
            }
        });
        ChromeTrace {
            trace_events: names.chain(nodes).collect(),
            display_time_unit: "ms",
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn tid(lane: usize) -> u32 {
    u32::try_from(lane + 1).unwrap_or(u32::MAX)
}

/// Assigns every instance a lane such that on each lane, every instance runs inside the one
/// below it in its parent chain: concurrent siblings never share a lane, so the viewer never
/// draws one as if called by the other. Nodes are in start order (their ids), so each lane is
/// a stack of open ancestors.
fn lanes(nodes: &[NodeRecord], wall: Duration) -> Vec<usize> {
    let end = |node: &NodeRecord| node.end.unwrap_or(wall);
    let mut lane_of = Vec::with_capacity(nodes.len());
    let mut stacks: Vec<Vec<usize>> = Vec::new();
    for node in nodes {
        let preferred = node.parent.map_or(0, |p| lane_of[p]);
        let fits = |stack: &mut Vec<usize>| {
            // Close what ended by the time this node started (its ancestors have not, though
            // in a zero-duration run they may end at the same instant).
            while let Some(&top) = stack.last() {
                if is_ancestor(nodes, top, node) || end(&nodes[top]) > node.start {
                    break;
                }
                stack.pop();
            }
            stack
                .last()
                .is_none_or(|&top| is_ancestor(nodes, top, node))
        };
        let lane = std::iter::once(preferred)
            .chain(0..)
            .find(|&lane| {
                if lane == stacks.len() {
                    stacks.push(Vec::new());
                }
                fits(&mut stacks[lane])
            })
            .unwrap_or(preferred);
        stacks[lane].push(node.id);
        lane_of.push(lane);
    }
    lane_of
}

fn is_ancestor(nodes: &[NodeRecord], candidate: usize, node: &NodeRecord) -> bool {
    std::iter::successors(node.parent, |&p| nodes[p].parent).any(|p| p == candidate)
}
