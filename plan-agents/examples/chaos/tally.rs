//! What the runs did, summed up, and the invariants checked over them.

use std::fmt::Write as _;
use std::time::Duration;

use plan_runtime::budget::{Left, Spent};
use plan_runtime::report::{Outcome, RunReport};

/// How long past its deadline a run may take to be dropped and end: the deadline is checked
/// by a timer, and a run's end is seen by the task waiting on it.
pub const GRACE: Duration = Duration::from_millis(500);

/// One run of an agent, as it ended.
pub struct Ran {
    /// `research` or `team`, and the run's number from 1.
    pub agent: &'static str,
    pub number: usize,
    /// `Err` says why it failed, naming the node that failed if it can.
    pub outcome: Result<(), Failure>,
    /// Whether something panicked in it (a step, or the task running it).
    pub panicked: bool,
    /// Its run report (for the team, the reports of all its agents' turns).
    pub report: RunReport,
    /// Retries the agents' sessions made of failed turns (the team's; not in the report).
    pub turn_retries: u64,
    /// What its budget spent, and its limits.
    pub spent: Spent,
    pub limits: Left,
    pub deadline: Duration,
    pub wall: Duration,
}

/// Why a run failed.
pub struct Failure {
    /// The node the failure names (`` `name` (kind at path, file:line:column) ``); `None`
    /// if it names none, which breaks an invariant.
    pub node: Option<String>,
    /// The error, on one line.
    pub error: String,
}

impl Ran {
    /// Retries, from the report: the tools' (`retries`, the HTTP tool's) and the plan's
    /// (`#[retry]`: a node's attempts past the first); and the sessions' retried turns.
    pub fn retries(&self) -> u64 {
        let counted = self
            .report
            .totals()
            .iter()
            .find(|(name, _)| *name == "retries")
            .map_or(0.0, |(_, n)| *n);
        let attempts: u64 = self
            .report
            .nodes
            .iter()
            .map(|node| u64::from(node.attempts.saturating_sub(1)))
            .sum();
        counted as u64 + attempts + self.turn_retries
    }

    /// Its line: `research 3: succeeded in SECONDSs (N retries)`, or `... failed in ..: ERROR`.
    pub fn line(&self) -> String {
        let head = format!("{} {}", self.agent, self.number);
        let retries = self.retries();
        match &self.outcome {
            Ok(()) => format!(
                "{head}: succeeded in {:.2}s ({retries} retries)",
                self.wall.as_secs_f64()
            ),
            Err(failure) => {
                // A plan's error names its node first; say it only where the error does not.
                let at = match failure.node.as_deref() {
                    Some(node) if failure.error.starts_with(node) => String::new(),
                    Some(node) => format!(" at {node}"),
                    None => " at no node".to_owned(),
                };
                format!(
                    "{head}: failed in {:.2}s ({retries} retries){at}: {}",
                    self.wall.as_secs_f64(),
                    failure.error
                )
            }
        }
    }

    /// The invariants this run breaks, each as a sentence.
    pub fn broken(&self) -> Vec<String> {
        let mut broken = Vec::new();
        let run = format!("{} {}", self.agent, self.number);
        if self.panicked
            || self.report.nodes.iter().any(
                |n| matches!(&n.outcome, Outcome::Failed { error, .. } if *error == "panicked"),
            )
        {
            broken.push(format!("no panic: {run} panicked"));
        }
        if self.wall > self.deadline + GRACE {
            broken.push(format!(
                "no run past its deadline: {run} took {:.2}s (deadline {:.2}s + {:.2}s grace)",
                self.wall.as_secs_f64(),
                self.deadline.as_secs_f64(),
                GRACE.as_secs_f64()
            ));
        }
        let over = |what: &str, spent: String, limit: String| {
            format!("no budget exceeded: {run} spent {spent} {what} of {limit}")
        };
        if let Some(limit) = self.limits.requests
            && self.spent.requests > limit
        {
            broken.push(over(
                "requests",
                self.spent.requests.to_string(),
                limit.to_string(),
            ));
        }
        if let Some(limit) = self.limits.tokens
            && self.spent.tokens > limit
        {
            broken.push(over(
                "tokens",
                self.spent.tokens.to_string(),
                limit.to_string(),
            ));
        }
        if let Some(limit) = self.limits.dollars
            && self.spent.dollars > limit + 1e-12
        {
            broken.push(over(
                "dollars",
                format!("${:.6}", self.spent.dollars),
                format!("${limit:.6}"),
            ));
        }
        if let Err(failure) = &self.outcome
            && failure.node.as_deref().is_none_or(str::is_empty)
        {
            broken.push(format!(
                "every failure naming its node: {run} failed naming none: {}",
                failure.error
            ));
        }
        broken
    }
}

/// The summary's lines, ending with `invariants: ok` or `invariants: BROKEN (...)`, and
/// whether the invariants hold. `served` is the servers' own count of requests.
pub fn summary(runs: &[Ran], served: u64) -> (String, bool) {
    let mut out = String::new();
    let failed = runs.iter().filter(|r| r.outcome.is_err()).count();
    let _ = writeln!(
        out,
        "runs: {} ({} succeeded, {failed} failed)",
        runs.len(),
        runs.len() - failed
    );
    let retries: u64 = runs.iter().map(Ran::retries).sum();
    let _ = writeln!(out, "retries: {retries}");
    let requests: u64 = runs.iter().map(|r| r.spent.requests).sum();
    let _ = writeln!(out, "requests: {requests} (the servers counted {served})");
    let tokens: u64 = runs.iter().map(|r| r.spent.tokens).sum();
    let _ = writeln!(out, "tokens: {tokens}");
    let dollars: f64 = runs.iter().map(|r| r.spent.dollars).sum();
    let _ = writeln!(out, "spend: ${dollars:.6}");
    let mut walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    walls.sort();
    let _ = writeln!(
        out,
        "wall: p50 {:.2}s p99 {:.2}s",
        percentile(&walls, 50).as_secs_f64(),
        percentile(&walls, 99).as_secs_f64()
    );
    let broken: Vec<String> = runs.iter().flat_map(Ran::broken).collect();
    if broken.is_empty() {
        out.push_str("invariants: ok");
    } else {
        let _ = write!(out, "invariants: BROKEN ({})", broken.join("; "));
    }
    (out, broken.is_empty())
}

/// The nearest-rank percentile `p` of `sorted` (zero if it is empty).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}
