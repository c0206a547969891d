//! The critical path of a run: the node instances that made it as long as it was.

use std::time::Duration;

use plan_runtime::report::{Outcome, RunReport};

/// The instances on the run's critical path, each container before the ones inside it.
///
/// Among the instances that ran side by side (the children of one instance, or the roots of
/// a resumed durable run), the one that ended last is critical; before it, the one that
/// ended last among those that had ended when it started, and so on back; branches cancelled
/// because another finished are left out. A `par`'s slowest branch is critical and the others
/// not, `first`'s winner and not its losers; each of a `seq`'s steps is. Inside each instance on
/// the path, the same again. An instance still running counts as ending at the latest time
/// seen.
pub(super) fn path(report: &RunReport) -> Vec<usize> {
    let latest = report
        .nodes
        .iter()
        .map(|n| n.end.unwrap_or(n.start))
        .max()
        .unwrap_or_default();
    let end = |id: usize| report.nodes[id].end.unwrap_or(latest);
    let mut children = vec![Vec::new(); report.nodes.len()];
    let mut roots = Vec::new();
    for node in &report.nodes {
        match node.parent {
            Some(parent) => children[parent].push(node.id),
            None => roots.push(node.id),
        }
    }
    let mut path = Vec::new();
    walk(&roots, &children, report, &end, &mut path);
    path
}

/// Adds the chain of `siblings` to `path`, each instance followed by the chain inside it.
/// Recursion as deep as the plan's nesting, which its source bounds.
fn walk(
    siblings: &[usize],
    children: &[Vec<usize>],
    report: &RunReport,
    end: &impl Fn(usize) -> Duration,
    path: &mut Vec<usize>,
) {
    for id in chain(siblings, report, end) {
        path.push(id);
        walk(&children[id], children, report, end, path);
    }
}

/// Of `siblings`, the chain back from the one that ended last, in time order: one pass over
/// them latest end first, so that a loop's ten thousand passes take no longer than sorting.
fn chain(siblings: &[usize], report: &RunReport, end: &impl Fn(usize) -> Duration) -> Vec<usize> {
    // A branch cancelled because another finished did not hold the run up; only when all
    // were cancelled (a deadline cut the group off) are they on the path.
    let finished: Vec<usize> = siblings
        .iter()
        .copied()
        .filter(|&id| report.nodes[id].outcome != Outcome::Cancelled)
        .collect();
    let mut latest_first = if finished.is_empty() {
        siblings.to_vec()
    } else {
        finished
    };
    latest_first.sort_by_key(|&id| std::cmp::Reverse((end(id), report.nodes[id].start, id)));
    let mut chain = Vec::new();
    let mut before = Duration::MAX;
    for id in latest_first {
        if end(id) <= before {
            chain.push(id);
            before = report.nodes[id].start;
        }
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use plan_runtime::prelude::*;

    async fn pause(ms: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }
    async fn first(_: ()) -> u64 {
        pause(10).await
    }
    async fn slow(_: u64) -> u64 {
        pause(50).await
    }
    async fn fast(_: u64) -> u64 {
        pause(20).await
    }
    fn last((a, b): (u64, u64)) -> u64 {
        a + b
    }

    #[tokio::test(start_paused = true)]
    async fn the_slowest_branch_is_critical_and_the_others_not() {
        let plan = plan! { first >> par(all) { slow, fast } >> last };
        let (out, report) = plan.run(()).reported().await;
        assert_eq!(out.unwrap(), 70);
        let names: Vec<_> = super::path(&report)
            .into_iter()
            .map(|id| report.nodes[id].name)
            .collect();
        assert!(names.contains(&"first") && names.contains(&"slow") && names.contains(&"last"));
        assert!(!names.contains(&"fast"), "{names:?}");
        let first = names.iter().position(|n| *n == "first").unwrap();
        let slow = names.iter().position(|n| *n == "slow").unwrap();
        assert!(first < slow, "in time order: {names:?}");
    }
}
