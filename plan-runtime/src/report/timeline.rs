//! The text timeline: a Gantt chart of a run for the terminal.

use std::fmt;
use std::time::Duration;

use plan_core::NodeKind;

use super::record::{NodeRecord, Outcome, RunReport};

/// A run as a Gantt chart: one row per node instance, indented under its parent and labelled
/// as [`NodeRecord::label`] says, with a bar from its start to its end on a shared time axis,
/// its duration and its outcome (with its attempts, if it was retried, and the time it waited
/// for limits, if it did: `ok, waited 120 ms`).
///
/// Made by [`RunReport::timeline`]; `Display` renders it. Bars are drawn with `█` for nodes
/// that succeeded, `▓` failed, `▒` timed out, `░` cancelled and `·` still running.
///
/// ```
/// use plan_runtime::prelude::*;
/// use std::time::Duration;
///
/// async fn fast(x: u32) -> u32 { tokio::time::sleep(Duration::from_millis(10)).await; x }
/// async fn slow(x: u32) -> u32 { tokio::time::sleep(Duration::from_millis(40)).await; x }
/// let p = plan! { #![name = "demo"] fast >> slow };
///
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
/// # rt.block_on(async {
/// let (_, report) = p.run(1).reported().await;
/// let chart = report.timeline().width(10).to_string();
/// assert_eq!(chart, "\
/// demo    0 ms ┃██████████┃ 50 ms  ok
///   fast  0 ms ┃██        ┃ 10 ms  ok
///   slow 10 ms ┃  ████████┃ 40 ms  ok
/// ");
/// # });
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Timeline<'r> {
    report: &'r RunReport,
    width: usize,
}

impl RunReport {
    /// This run as a text Gantt chart; see [`Timeline`].
    pub fn timeline(&self) -> Timeline<'_> {
        Timeline {
            report: self,
            width: 48,
        }
    }
}

impl Timeline<'_> {
    /// The width of the bars' area, in characters (48 by default, at least 1).
    pub fn width(self, width: usize) -> Self {
        Timeline {
            width: width.max(1),
            ..self
        }
    }
}

/// One row of the chart, before alignment.
struct Row<'r> {
    depth: usize,
    node: &'r NodeRecord,
}

impl fmt::Display for Timeline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = rows(self.report);
        let label =
            |row: &Row<'_>| format!("{:indent$}{}", "", row.node.label(), indent = 2 * row.depth);
        let labels: Vec<String> = rows.iter().map(label).collect();
        let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let starts: Vec<String> = rows.iter().map(|r| human(r.node.start)).collect();
        let start_width = starts.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        let durations: Vec<String> = rows
            .iter()
            .map(|r| r.node.duration().map_or_else(|| "…".to_owned(), human))
            .collect();
        let duration_width = durations
            .iter()
            .map(|d| d.chars().count())
            .max()
            .unwrap_or(0);
        let ends = self.report.nodes.iter().filter_map(|n| n.end);
        let axis = ends.max().unwrap_or_default();
        for (((row, label), start), duration) in
            rows.iter().zip(&labels).zip(&starts).zip(&durations)
        {
            let bar = bar(row.node, axis, self.width);
            write!(
                f,
                "{label:<label_width$} {start:>start_width$} ┃{bar}┃ {duration:>duration_width$}  {}",
                row.node.outcome
            )?;
            if row.node.attempts > 1 {
                write!(f, ", {} attempts", row.node.attempts)?;
            }
            if !row.node.waited.is_zero() {
                write!(f, ", waited {}", human(row.node.waited))?;
            }
            for (counter, amount) in &row.node.counters {
                write!(f, ", {counter} {amount}")?;
            }
            for (key, value) in &row.node.notes {
                write!(f, ", {key} {value}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The instances in tree order: each followed by its children in start order, except that
/// the steps of one `par` branch stay together (see [`branch_order`]).
fn rows(report: &RunReport) -> Vec<Row<'_>> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); report.nodes.len()];
    let mut roots = Vec::new();
    for node in &report.nodes {
        match node.parent {
            Some(parent) => children[parent].push(node.id),
            None => roots.push(node.id),
        }
    }
    for (parent, siblings) in children.iter_mut().enumerate() {
        if report.nodes[parent].kind == NodeKind::Par {
            branch_order(report, siblings);
        }
    }
    let mut rows = Vec::with_capacity(report.nodes.len());
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|id| (id, 0)).collect();
    while let Some((id, depth)) = stack.pop() {
        rows.push(Row {
            depth,
            node: &report.nodes[id],
        });
        stack.extend(children[id].iter().rev().map(|&child| (child, depth + 1)));
    }
    rows
}

/// Orders the children of a `par` (given in start order) by branch, so that a branch's chain
/// (`a >> b`) reads as one block; a retried `par` runs its branches again, and each attempt
/// (a *round*: it begins when a node seen in the current round starts again) stays separate.
fn branch_order(report: &RunReport, siblings: &mut [usize]) {
    let branch = |id: usize| -> u64 {
        let node = &report.nodes[id];
        let within = node.parent.map_or("", |p| &*report.nodes[p].path).len();
        let rest = node
            .path
            .get(within..)
            .unwrap_or("")
            .trim_start_matches('/');
        rest.split('/')
            .next()
            .and_then(|b| b.parse().ok())
            .unwrap_or(0)
    };
    let mut round = 0;
    let mut seen: Vec<&str> = Vec::new();
    let mut keys = Vec::with_capacity(siblings.len());
    for &id in siblings.iter() {
        let path = &*report.nodes[id].path;
        if seen.contains(&path) {
            round += 1;
            seen.clear();
        }
        seen.push(path);
        keys.push(((round, branch(id)), id));
    }
    keys.sort_unstable();
    for (slot, (_, id)) in siblings.iter_mut().zip(keys) {
        *slot = id;
    }
}

/// The node's bar on an axis from 0 to `axis`, `width` characters wide.
fn bar(node: &NodeRecord, axis: Duration, width: usize) -> String {
    // Integer arithmetic: a node starting at exactly a fifth of the axis starts at exactly a
    // fifth of the width.
    let axis = axis.as_nanos().max(1);
    let cells = width as u128;
    let end = node.end.map_or(axis, |end| end.as_nanos());
    // Every node gets at least one cell, even an instant one at the very end.
    let first = ((node.start.as_nanos() * cells / axis) as usize).min(width - 1);
    let last = ((end * cells).div_ceil(axis) as usize).clamp(first + 1, width);
    let fill = match node.outcome {
        Outcome::Ok => '█',
        Outcome::Failed { .. } => '▓',
        Outcome::TimedOut { .. } => '▒',
        Outcome::Cancelled => '░',
        Outcome::Running => '·',
    };
    (0..width)
        .map(|cell| {
            if (first..last).contains(&cell) {
                fill
            } else {
                ' '
            }
        })
        .collect()
}

/// A duration for people: `0 ms`, `7.5 ms`, `812 ms`, `1.43 s`, `95 µs`.
pub(super) fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if d.is_zero() {
        "0 ms".to_owned()
    } else if ms < 1.0 {
        format!("{} µs", d.as_micros())
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// The derived figures under a timeline: wall and busy time, concurrency, barrier waits.
impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.timeline())?;
        writeln!(
            f,
            "wall {} · busy {} · concurrency {:.2}",
            human(self.wall),
            human(self.busy),
            self.concurrency
        )?;
        let totals = self.totals();
        if !totals.is_empty() {
            let shown: Vec<String> = totals
                .iter()
                .map(|(counter, amount)| format!("{counter} {amount}"))
                .collect();
            write!(f, "counted: {}", shown.join(" · "))?;
            let total = |name| totals.iter().find(|(c, _)| *c == name).map(|(_, a)| *a);
            if let (Some(requests), Some(ok)) = (total("requests"), total("requests_ok"))
                && requests > 0.0
            {
                write!(f, " · success rate {:.0} %", 100.0 * ok / requests)?;
            }
            writeln!(f)?;
        }
        for (group, barrier) in self.groups() {
            let path = if group.path.is_empty() {
                "root"
            } else {
                &group.path
            };
            let branches = match barrier.branches_finished {
                1 => "1 branch".to_owned(),
                n => format!("{n} branches"),
            };
            writeln!(
                f,
                "barrier wait of `{}` at {path}: {} ({branches} finished)",
                group.label(),
                human(barrier.wait),
            )?;
        }
        Ok(())
    }
}
