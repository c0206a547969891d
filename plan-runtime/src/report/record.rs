//! What a run report holds: [`RunReport`], one [`NodeRecord`] per node instance, its
//! [`Outcome`], and the [`Barrier`] of every parallel group.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use plan_core::{Label, Location, NodeInfo, NodeKind};
use serde::{Serialize, Serializer};

/// What happened in one run: every node instance that started, with its times, attempts and
/// outcome, and figures derived from them. Times are measured from the start of the run.
///
/// Serializes with serde; durations are whole microseconds in fields ending in `_us`.
///
/// ```
/// use plan_runtime::prelude::*;
/// use std::time::Duration;
///
/// async fn wait(ms: u64) -> u64 { tokio::time::sleep(Duration::from_millis(ms)).await; ms }
/// let p = plan! { par(all) { wait, wait } };
///
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
/// # rt.block_on(async {
/// let (out, report) = p.run(100).reported().await;
/// assert_eq!(out.unwrap(), (100, 100));
/// assert_eq!(report.wall, Duration::from_millis(100));
/// assert_eq!(report.busy, Duration::from_millis(200)); // two steps of 100 ms each
/// assert_eq!(report.concurrency, 2.0);
/// # });
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// Node instances in the order they started; a node's `id` is its index here.
    pub nodes: Vec<NodeRecord>,
    /// From the first start to the last end.
    #[serde(rename = "wall_us", serialize_with = "serialize_micros")]
    pub wall: Duration,
    /// The summed run time of every leaf (step) instance; a cancelled step counts until it
    /// was cancelled, and a retried step includes its backoff waits.
    #[serde(rename = "busy_us", serialize_with = "serialize_micros")]
    pub busy: Duration,
    /// `busy / wall`: how many steps ran at once, on average (0 for an instant run).
    pub concurrency: f64,
}

/// One node instance: a step inside a loop or an `each` has one record per pass or item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeRecord {
    /// This instance's index in [`RunReport::nodes`].
    pub id: usize,
    /// The instance it ran inside (`None` for the plan's root).
    pub parent: Option<usize>,
    /// The node's name.
    pub name: &'static str,
    /// The node's kind.
    pub kind: NodeKind,
    /// Full path through nested plans, as in errors (`""` for the root).
    pub path: Cow<'static, str>,
    /// The parallel policy as written, for `par` and `each`.
    pub policy: Option<&'static str>,
    /// Where the node is written.
    pub location: Location,
    /// When it started (its first poll).
    #[serde(rename = "start_us", serialize_with = "serialize_micros")]
    pub start: Duration,
    /// When it ended, if it has.
    #[serde(rename = "end_us", serialize_with = "option_micros")]
    pub end: Option<Duration>,
    /// How many times it ran (more than 1 under `#[retry]`).
    pub attempts: u32,
    /// How long it waited, while it ran, for limits shared with other work (a rate limit, a
    /// concurrency slot: see [`Monitor::waited`](plan_core::Monitor::waited)). It is part of
    /// its duration, and so of the run's busy time. Left out of the serialized record when
    /// zero.
    #[serde(
        rename = "waited_us",
        serialize_with = "serialize_micros",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub waited: Duration,
    /// What the tools it ran counted (tokens, money, requests, retries: see
    /// [`Monitor::count`](plan_core::Monitor::count)), in the order first counted. Left out
    /// of the serialized record when empty.
    #[serde(
        serialize_with = "serialize_counters",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub counters: Vec<(&'static str, f64)>,
    /// What was said of it (see [`Monitor::note`](plan_core::Monitor::note)): the worker a
    /// remote step ran on, the ranking of an `n_best` group (`ranks`), the outcome of each
    /// branch of a `settled` one (`outcomes`). Left out of the serialized record when empty.
    #[serde(
        serialize_with = "serialize_notes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub notes: Vec<(&'static str, String)>,
    /// How it ended.
    pub outcome: Outcome,
    /// For `par` and `each`: when its branches finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barrier: Option<Barrier>,
}

/// When the branches of one `par`/`each` instance finished. The barrier wait is how long the
/// first branch to finish waited for the last: the time a layered pipeline loses to its
/// slowest branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Barrier {
    /// Branches that finished, with a value or an error (cancelled losers don't count).
    pub branches_finished: usize,
    /// When the first branch finished.
    #[serde(rename = "first_finished_us", serialize_with = "serialize_micros")]
    pub first_finished: Duration,
    /// When the last branch finished.
    #[serde(rename = "last_finished_us", serialize_with = "serialize_micros")]
    pub last_finished: Duration,
    /// `last_finished - first_finished`.
    #[serde(rename = "wait_us", serialize_with = "serialize_micros")]
    pub wait: Duration,
}

/// How a node instance ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It has not ended (a report taken during the run).
    Running,
    /// It produced a value.
    Ok,
    /// It failed, or an error passed through it.
    Failed {
        /// The kind of error ([`PlanError::kind`](crate::PlanError::kind)).
        error: &'static str,
        /// The error as a log line.
        message: String,
    },
    /// Its own deadline passed.
    TimedOut {
        /// The deadline.
        #[serde(rename = "after_us", serialize_with = "serialize_micros")]
        after: Duration,
    },
    /// It was dropped before it finished: a losing or cancelled branch, the inside of a
    /// node that timed out, or a run dropped from outside.
    Cancelled,
}

impl Outcome {
    /// A short word for displays: `running`, `ok`, `failed`, `timed out` or `cancelled`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Ok => "ok",
            Outcome::Failed { .. } => "failed",
            Outcome::TimedOut { .. } => "timed out",
            Outcome::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Failed { error, .. } => write!(f, "failed ({error})"),
            Outcome::TimedOut { after } => write!(f, "timed out after {after:?}"),
            other => f.write_str(other.as_str()),
        }
    }
}

impl NodeRecord {
    pub(super) fn started(
        id: usize,
        parent: Option<usize>,
        node: &'static NodeInfo,
        path: Cow<'static, str>,
        at: Duration,
    ) -> Self {
        NodeRecord {
            id,
            parent,
            name: node.name,
            kind: node.kind,
            path,
            policy: node.policy,
            location: node.location(),
            start: at,
            end: None,
            attempts: 1,
            waited: Duration::ZERO,
            counters: Vec::new(),
            notes: Vec::new(),
            outcome: Outcome::Running,
            barrier: None,
        }
    }

    /// What the timeline and the trace call it: its name, or for an unnamed construct its
    /// keyword, policy and place (`par(all) at main.rs:57`); see [`Label`].
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    ///
    /// fn inc(x: u32) -> u32 { x + 1 }
    /// let p = plan! { par(all) { inc, inc } };
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// let (_, report) = rt.block_on(p.run(1).reported());
    /// let par = report.find("par").unwrap();
    /// let at = par.location;
    /// assert_eq!(par.label().to_string(), format!("par(all) at {}:{}", at.file_name(), at.line));
    /// assert_eq!(report.find("inc").unwrap().label().to_string(), "inc");
    /// ```
    pub fn label(&self) -> Label {
        Label::new(self.name, self.kind, self.policy, self.location)
    }

    /// How long it ran, if it has ended.
    pub fn duration(&self) -> Option<Duration> {
        self.end.map(|end| end - self.start)
    }
}

impl RunReport {
    pub(super) fn new(nodes: Vec<NodeRecord>) -> Self {
        let mut has_children = vec![false; nodes.len()];
        for parent in nodes.iter().filter_map(|n| n.parent) {
            has_children[parent] = true;
        }
        let start = nodes.iter().map(|n| n.start).min().unwrap_or_default();
        let end = nodes.iter().filter_map(|n| n.end).max().unwrap_or(start);
        let wall = end.saturating_sub(start);
        let busy: Duration = nodes
            .iter()
            .filter(|n| {
                matches!(n.kind, NodeKind::Step | NodeKind::Blocking) && !has_children[n.id]
            })
            .filter_map(NodeRecord::duration)
            .sum();
        let concurrency = if wall.is_zero() {
            0.0
        } else {
            busy.as_secs_f64() / wall.as_secs_f64()
        };
        RunReport {
            nodes,
            wall,
            busy,
            concurrency,
        }
    }

    /// The first instance of the node named `name`.
    pub fn find(&self, name: &str) -> Option<&NodeRecord> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every instance of the node named `name`, in start order.
    pub fn find_all<'r, 'n>(
        &'r self,
        name: &'n str,
    ) -> impl Iterator<Item = &'r NodeRecord> + use<'r, 'n> {
        self.nodes.iter().filter(move |n| n.name == name)
    }

    /// The instances that ran directly inside instance `id`, in start order.
    pub fn children(&self, id: usize) -> impl Iterator<Item = &NodeRecord> + '_ {
        self.nodes.iter().filter(move |n| n.parent == Some(id))
    }

    /// Every counter of the run, summed over the instances that counted it (tools count on
    /// the step that calls them, so nothing is counted twice), in the order first counted.
    pub fn totals(&self) -> Vec<(&'static str, f64)> {
        let mut totals = Vec::new();
        for &(counter, amount) in self.nodes.iter().flat_map(|n| &n.counters) {
            add_to(&mut totals, counter, amount);
        }
        totals
    }

    /// Every `par`/`each` instance whose branches finished, with its barrier.
    pub fn groups(&self) -> impl Iterator<Item = (&NodeRecord, &Barrier)> + '_ {
        self.nodes
            .iter()
            .filter_map(|n| n.barrier.as_ref().map(|b| (n, b)))
    }
}

/// Serializes a duration as whole microseconds.
pub(super) fn serialize_micros<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn option_micros<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serialize_micros(d, s),
        None => s.serialize_none(),
    }
}

/// Counters as a JSON object: `{"tokens_in": 120, "requests": 1}`.
fn serialize_counters<S: Serializer>(
    counters: &[(&'static str, f64)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(counters.iter().map(|(name, value)| (*name, *value)))
}

fn serialize_notes<S: Serializer>(
    notes: &[(&'static str, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(notes.iter().map(|(key, value)| (*key, value)))
}

/// Adds `amount` to `counter` in `counters`, appending it if it is new.
pub(super) fn add_to(counters: &mut Vec<(&'static str, f64)>, counter: &'static str, amount: f64) {
    match counters.iter_mut().find(|(name, _)| *name == counter) {
        Some((_, total)) => *total += amount,
        None => counters.push((counter, amount)),
    }
}
