//! Run reports (`plan_runtime::report`): the times, outcomes, parents, paths and barriers a
//! `Recorder` keeps, the figures derived from them (wall, busy, concurrency), and the three
//! ways of seeing them — the text timeline, the Chrome trace and the live event stream — all
//! proven on tokio's paused clock, where every time is an exact virtual time.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use common::*;

use futures::StreamExt;
use futures::channel::oneshot;
use plan_runtime::NodeKind;
use plan_runtime::prelude::*;
use plan_runtime::report::{Barrier, Event, EventKind, NodeRecord, Outcome, Recorder, RunReport};
use serde_json::{Value, json};
use tokio::time::Instant;

define_fail!("step");

// ---------------------------------------------------------------------------------------------
// Steps

async fn pause(n: u64) {
    tokio::time::sleep(ms(n)).await;
}

/// 10 ms.
async fn a(x: u32) -> u32 {
    pause(10).await;
    x + 1
}

/// 40 ms.
async fn b(x: u32) -> u32 {
    pause(40).await;
    x * 2
}

/// 30 ms.
async fn c(x: u32) -> u32 {
    pause(30).await;
    x * 3
}

/// 5 ms.
async fn d((x, y): (u32, u32)) -> u32 {
    pause(5).await;
    x + y
}

/// Instant.
fn inc(x: u32) -> u32 {
    x + 1
}

/// Instant.
fn add((x, y): (u32, u32)) -> u32 {
    x + y
}

/// Panics.
fn boom(_x: u32) -> u32 {
    panic!("boom")
}

/// Sleeps `sleep_ms`, then passes its input on.
fn nap(sleep_ms: u64) -> impl Fn(u32) -> BoxFut<u32> + Send + Sync + 'static {
    move |x: u32| {
        Box::pin(async move {
            tokio::time::sleep(ms(sleep_ms)).await;
            x
        })
    }
}

/// Sleeps `sleep_ms`, then fails with `Fail(id)`.
fn fail_after(id: u32, sleep_ms: u64) -> impl Fn(u32) -> BoxFut<Result<u32, Fail>> + Send + Sync {
    move |_x: u32| {
        Box::pin(async move {
            tokio::time::sleep(ms(sleep_ms)).await;
            Err(Fail(id))
        })
    }
}

/// Attempt `k` (from 1) sleeps `sleeps[k - 1]`, then fails with `Fail(k)` if `k <= failures`,
/// else passes its input on.
fn flaky(
    failures: u32,
    sleeps: &'static [u64],
) -> impl Fn(u32) -> BoxFut<Result<u32, Fail>> + Send + Sync + 'static {
    let calls = Arc::new(AtomicU32::new(0));
    move |x: u32| {
        let k = calls.fetch_add(1, SeqCst) + 1;
        Box::pin(async move {
            tokio::time::sleep(ms(sleeps[k as usize - 1])).await;
            if k <= failures { Err(Fail(k)) } else { Ok(x) }
        })
    }
}

/// An item of an `each`: sleeps its own number of milliseconds and returns it.
async fn item(n: u64) -> u64 {
    pause(n).await;
    n
}

// ---------------------------------------------------------------------------------------------
// Assertion helpers

/// The one record named `name`.
#[track_caller]
fn node<'r>(report: &'r RunReport, name: &str) -> &'r NodeRecord {
    // Not `find_all`: its result borrows `name` for as long as the report.
    let mut all = report.nodes.iter().filter(|n| n.name == name);
    let found = all
        .next()
        .unwrap_or_else(|| panic!("no record named `{name}` in\n{report}"));
    assert!(all.next().is_none(), "more than one `{name}` in\n{report}");
    found
}

/// Checks the record named `name` ran from `start` to `end` ms and ended with `outcome`.
#[track_caller]
fn assert_node(report: &RunReport, name: &str, start: u64, end: u64, outcome: Outcome) {
    let n = node(report, name);
    assert_eq!(
        (n.start, n.end, &n.outcome),
        (ms(start), Some(ms(end)), &outcome),
        "`{name}` in\n{report}"
    );
}

/// What holds for every report: ids are indices in start order, a parent started before its
/// children, and (when both ended) ended no earlier than them.
#[track_caller]
fn assert_well_formed(report: &RunReport) {
    let mut previous_start = Duration::ZERO;
    for (index, n) in report.nodes.iter().enumerate() {
        assert_eq!(n.id, index);
        assert!(n.start >= previous_start, "not in start order: {report}");
        previous_start = n.start;
        if let Some(end) = n.end {
            assert!(end >= n.start);
        }
        match n.parent {
            None => assert_eq!(index, 0, "only the root has no parent"),
            Some(p) => {
                assert!(p < index, "a parent starts before its child");
                let parent = &report.nodes[p];
                assert!(parent.start <= n.start);
                if let (Some(pe), Some(ce)) = (parent.end, n.end) {
                    assert!(ce <= pe, "`{}` ends after its parent", n.name);
                }
            }
        }
    }
}

fn failed_step(err: &PlanError) -> Outcome {
    Outcome::Failed {
        error: "step",
        message: err.to_string(),
    }
}

fn failed(error: &'static str, err: &PlanError) -> Outcome {
    Outcome::Failed {
        error,
        message: err.to_string(),
    }
}

/// Every record as (name, kind, parent, path), in start order.
fn tree(report: &RunReport) -> Vec<(&str, NodeKind, Option<usize>, &str)> {
    report
        .nodes
        .iter()
        .map(|n| (n.name, n.kind, n.parent, &*n.path))
        .collect()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Timings

/// `a(10) >> par(all) { b(40), c(30) } >> d(5)`: every start and end, the wall time, the busy
/// time of the steps and the concurrency are exact virtual times.
#[tokio::test(start_paused = true)]
async fn timings_are_exact_in_virtual_time() {
    let p = plan! { a >> par(all) { b, c } >> d };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), 4 + 6);
    assert_well_formed(&report);

    let names: Vec<_> = report.nodes.iter().map(|n| n.name).collect();
    assert_eq!(names, ["plan", "a", "par", "b", "c", "d"]);
    assert_node(&report, "plan", 0, 55, Outcome::Ok);
    assert_node(&report, "a", 0, 10, Outcome::Ok);
    assert_node(&report, "par", 10, 50, Outcome::Ok);
    assert_node(&report, "b", 10, 50, Outcome::Ok);
    assert_node(&report, "c", 10, 40, Outcome::Ok);
    assert_node(&report, "d", 50, 55, Outcome::Ok);
    assert!(report.nodes.iter().all(|n| n.attempts == 1));

    assert_eq!(report.wall, ms(55));
    assert_eq!(
        report.busy,
        ms(10 + 40 + 30 + 5),
        "the steps only, not their parents"
    );
    assert_eq!(
        report.concurrency,
        report.busy.as_secs_f64() / report.wall.as_secs_f64()
    );
    assert!((report.concurrency - 85.0 / 55.0).abs() < 1e-12);
    assert_eq!(node(&report, "b").duration(), Some(ms(40)));
}

/// Two equal branches in parallel: concurrency is exactly 2.
#[tokio::test(start_paused = true)]
async fn two_equal_branches_have_a_concurrency_of_two() {
    let p = plan! { par(all) { nap(100), nap(100) } };
    let (_, report) = p.run(1).reported().await;
    assert_eq!(report.wall, ms(100));
    assert_eq!(report.busy, ms(200));
    assert_eq!(report.concurrency, 2.0);
}

/// A run in which nothing waits has zero wall and busy time and a concurrency of 0, not NaN.
#[tokio::test(start_paused = true)]
async fn an_instant_run_has_zero_wall_busy_and_concurrency() {
    let p = plan! { inc >> par(all) { inc, inc } >> add };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), 6);
    assert_eq!(report.nodes.len(), 6);
    assert!(
        report.nodes.iter().all(|n| (n.start, n.end, &n.outcome)
            == (Duration::ZERO, Some(Duration::ZERO), &Outcome::Ok))
    );
    assert_eq!((report.wall, report.busy), (Duration::ZERO, Duration::ZERO));
    assert_eq!(report.concurrency, 0.0);
}

/// `each(all, limit = 2)` over items of 30, 10, 20 and 40 ms: two start at once, the third when
/// the 10 ms item frees its slot, the fourth when the 30 ms one does.
#[tokio::test(start_paused = true)]
async fn each_with_a_limit_starts_items_as_slots_free() {
    let p = plan! { each(all, limit = 2) { item } };
    let (out, report) = p.run(vec![30, 10, 20, 40]).reported().await;
    assert_eq!(out.unwrap(), [30, 10, 20, 40]);
    assert_well_formed(&report);

    let each = node(&report, "each");
    assert_eq!((each.start, each.end), (ms(0), Some(ms(70))));
    let items: Vec<_> = report.find_all("item").collect();
    assert_eq!(items.len(), 4);
    let mut spans: Vec<_> = items.iter().map(|n| (n.start, n.end.unwrap())).collect();
    spans.sort();
    assert_eq!(
        spans,
        [
            (ms(0), ms(10)),
            (ms(0), ms(30)),
            (ms(10), ms(30)),
            (ms(30), ms(70))
        ]
    );
    assert_eq!(report.wall, ms(70));
    assert_eq!(report.busy, ms(100));
    assert_eq!(report.concurrency, 0.1 / 0.07);
    assert_eq!(
        each.barrier,
        Some(Barrier {
            branches_finished: 4,
            first_finished: ms(10),
            last_finished: ms(70),
            wait: ms(60),
        })
    );
}

/// `par(first, limit = 1)`: the second branch starts only when the first has failed.
#[tokio::test(start_paused = true)]
async fn a_par_limit_starts_a_later_branch_when_a_slot_frees() {
    let p = plan! {
        par(first, limit = 1) { #[name = "broken"] fail_after(1, 10), #[name = "ok"] nap(20) }
    };
    let (out, report) = p.run(5).reported().await;
    assert_eq!(out.unwrap(), 5);
    let broken = node(&report, "broken");
    assert_eq!((broken.start, broken.end), (ms(0), Some(ms(10))));
    assert_node(&report, "ok", 10, 30, Outcome::Ok);
    let (_, barrier) = report.groups().next().unwrap();
    assert_eq!(
        *barrier,
        Barrier {
            branches_finished: 2,
            first_finished: ms(10),
            last_finished: ms(30),
            wait: ms(20),
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Barriers

/// The barrier of a `par(all)`: how long its first finished branch waited for its last.
#[tokio::test(start_paused = true)]
async fn par_all_barrier_waits_for_the_slowest_branch() {
    let p = plan! { a >> par(all) { nap(25), nap(40), nap(5) } };
    let (_, report) = p.run(1).reported().await;
    let groups: Vec<_> = report.groups().collect();
    assert_eq!(groups.len(), 1);
    let (group, barrier) = groups[0];
    assert_eq!((group.name, group.kind), ("par", NodeKind::Par));
    assert_eq!(
        *barrier,
        Barrier {
            branches_finished: 3,
            first_finished: ms(15),
            last_finished: ms(50),
            wait: ms(35),
        }
    );
    assert_eq!(barrier.wait, barrier.last_finished - barrier.first_finished);
    assert!(
        report
            .nodes
            .iter()
            .filter(|n| n.kind != NodeKind::Par)
            .all(|n| n.barrier.is_none()),
        "only groups have barriers"
    );
}

/// `par(first)`: a branch that failed early counts as finished; the losers dropped when the
/// winner finished are cancelled and do not count.
#[tokio::test(start_paused = true)]
async fn par_first_barrier_counts_finished_branches_not_cancelled_losers() {
    let p = plan! {
        par(first) {
            #[name = "slow"] nap(40),
            #[name = "fast"] nap(20),
            #[name = "broken"] fail_after(1, 10),
        }
    };
    let (out, report) = p.run(3).reported().await;
    assert_eq!(out.unwrap(), 3);
    assert_node(&report, "fast", 0, 20, Outcome::Ok);
    assert_node(&report, "slow", 0, 20, Outcome::Cancelled);
    assert!(matches!(
        node(&report, "broken").outcome,
        Outcome::Failed { error: "step", .. }
    ));
    assert_eq!(
        node(&report, "par").barrier,
        Some(Barrier {
            branches_finished: 2,
            first_finished: ms(10),
            last_finished: ms(20),
            wait: ms(10),
        })
    );
}

/// `n_best` notes its ranking on the group as it resolves: the kept best first with their
/// scores and ranks, then those left out and those that failed, in branch order.
#[tokio::test(start_paused = true)]
async fn n_best_notes_its_scores_and_ranks_on_the_group() {
    fn score(x: &u32) -> f64 {
        f64::from(*x) / 10.0
    }
    fn twice(x: u32) -> u32 {
        x * 2
    }
    fn thrice(x: u32) -> u32 {
        x * 3
    }
    let p = plan! {
        par(n_best(2, by = score)) { inc, #[name = "broken"] fail_after(1, 10), thrice, twice }
    };
    let (out, report) = p.run(2).reported().await;
    assert_eq!(out.unwrap(), [6, 4]);
    let ranks = "branch 2: 0.6 (1st), branch 3: 0.4 (2nd), branch 0: 0.3 (not kept), \
                 branch 1 failed (step)";
    assert_eq!(node(&report, "par").notes, [("ranks", ranks.to_owned())]);
    let timeline = report.timeline().to_string();
    assert!(timeline.contains(ranks), "{timeline}");

    // `best`, and a deadline: a branch still running when it passed timed out.
    let p = plan! {
        par(best(by = score), timeout = 30ms) { #[name = "late"] nap(50), #[name = "early"] nap(10) }
    };
    let (out, report) = p.run(7).reported().await;
    assert_eq!(out.unwrap(), 7);
    let ranks = "branch 1: 0.7 (1st), branch 0 timed out";
    assert_eq!(node(&report, "par").notes, [("ranks", ranks.to_owned())]);
}

/// `settled` notes each branch's outcome on the group.
#[tokio::test(start_paused = true)]
async fn settled_notes_each_branchs_outcome_on_the_group() {
    let p = plan! {
        par(settled, timeout = 30ms) { inc, #[name = "broken"] fail_after(1, 10), #[name = "late"] nap(50) }
    };
    let (out, report) = p.run(1).reported().await;
    let (inc, broken, late) = out.unwrap();
    assert!(inc.is_ok() && broken.is_err() && late.unwrap_err().is_timeout());
    let outcomes = "ok, failed (step), timed out";
    assert_eq!(
        node(&report, "par").notes,
        [("outcomes", outcomes.to_owned())]
    );

    let p = plan! { each(settled, timeout = 25ms) { item } };
    let (out, report) = p.run(vec![10, 50]).reported().await;
    assert_eq!(out.unwrap().len(), 2);
    let outcomes = "ok, timed out";
    assert_eq!(
        node(&report, "each").notes,
        [("outcomes", outcomes.to_owned())]
    );
}

/// Nested groups each have their own barrier, listed by `groups()` in start order.
#[tokio::test(start_paused = true)]
async fn nested_groups_each_have_their_own_barrier() {
    let p = plan! {
        a >> par(all) { nap(50), (|x: u32| vec![u64::from(x) * 10, 5]) >> each(all) { item } }
    };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), (2, vec![20, 5]));
    let groups: Vec<_> = report
        .groups()
        .map(|(n, barrier)| (n.name, *barrier))
        .collect();
    assert_eq!(
        groups,
        [
            (
                "par",
                Barrier {
                    branches_finished: 2,
                    first_finished: ms(30),
                    last_finished: ms(60),
                    wait: ms(30),
                }
            ),
            (
                "each",
                Barrier {
                    branches_finished: 2,
                    first_finished: ms(15),
                    last_finished: ms(30),
                    wait: ms(15),
                }
            ),
        ]
    );
}

/// A `par` under `#[retry]` is one instance with two attempts; its barrier is that of the
/// attempt that produced its result (as its deadline is), not a mix of both: a group of two
/// branches cannot have three finished branches.
#[tokio::test(start_paused = true)]
async fn a_retried_group_reports_the_barrier_of_its_last_attempt() {
    let p = plan! {
        #[retry(2)] par(all) { #[name = "flaky"] flaky(1, &[10, 10]), #[name = "steady"] nap(20) }
    };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), (1, 1));
    let par = node(&report, "par");
    assert_eq!((par.attempts, par.end), (2, Some(ms(30))));
    // The second attempt starts at 10 ms: `flaky` finishes at 20, `steady` at 30.
    assert_eq!(
        par.barrier,
        Some(Barrier {
            branches_finished: 2,
            first_finished: ms(20),
            last_finished: ms(30),
            wait: ms(10),
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/// A failing step is `Failed { error: "step" }`, and so is every node its error passes
/// through, with the same message; the sibling it cut short is cancelled and the step after
/// never started.
#[tokio::test(start_paused = true)]
async fn a_failure_marks_the_step_and_every_ancestor_it_passes_through() {
    let p = plan! { a >> par(all) { b, #[name = "broken"] fail_after(1, 20) } >> d };
    let (out, report) = p.run(1).reported().await;
    let err = out.unwrap_err();
    assert_eq!(err.node().name, "broken");
    assert_well_formed(&report);

    assert_node(&report, "a", 0, 10, Outcome::Ok);
    assert_node(&report, "broken", 10, 30, failed_step(&err));
    assert_node(&report, "par", 10, 30, failed_step(&err));
    assert_node(&report, "plan", 0, 30, failed_step(&err));
    assert_node(&report, "b", 10, 30, Outcome::Cancelled);
    assert!(report.find("d").is_none(), "`d` never started");
    assert_eq!(
        node(&report, "par").barrier.map(|b| b.branches_finished),
        Some(1)
    );
}

/// A step past its `#[timeout]` is `TimedOut` with its deadline; the plan it fails is
/// `Failed { error: "timeout" }`.
#[tokio::test(start_paused = true)]
async fn a_step_past_its_deadline_is_timed_out() {
    let p = plan! { a >> #[timeout(25ms)] #[name = "late"] nap(100) };
    let (out, report) = p.run(1).reported().await;
    let err = out.unwrap_err();
    assert!(err.is_timeout());
    assert_node(&report, "late", 10, 35, Outcome::TimedOut { after: ms(25) });
    assert_node(&report, "plan", 0, 35, failed("timeout", &err));
}

/// A `#[timeout]` on a construct: the construct is `TimedOut`, the work inside it that the
/// deadline dropped is `Cancelled`, and no branch finished, so there is no barrier.
#[tokio::test(start_paused = true)]
async fn a_timed_out_construct_cancels_its_inner_work() {
    let p = plan! { a >> #[timeout(25ms)] par(all) { b, c } };
    let (out, report) = p.run(1).reported().await;
    let err = out.unwrap_err();
    assert_node(&report, "par", 10, 35, Outcome::TimedOut { after: ms(25) });
    assert_node(&report, "b", 10, 35, Outcome::Cancelled);
    assert_node(&report, "c", 10, 35, Outcome::Cancelled);
    assert_node(&report, "plan", 0, 35, failed("timeout", &err));
    assert_eq!(report.groups().count(), 0);
}

/// A group `timeout =` marks the group `TimedOut`; the branch that made it is `Ok`, the one
/// cut off `Cancelled`. The same for `each`.
#[tokio::test(start_paused = true)]
async fn a_group_timeout_marks_the_group_timed_out() {
    let p = plan! { a >> par(all, timeout = 35ms) { b, c } };
    let (out, report) = p.run(1).reported().await;
    let err = out.unwrap_err();
    assert_eq!(err.node().name, "par");
    assert_node(&report, "par", 10, 45, Outcome::TimedOut { after: ms(35) });
    assert_node(&report, "c", 10, 40, Outcome::Ok);
    assert_node(&report, "b", 10, 45, Outcome::Cancelled);
    assert_eq!(
        node(&report, "par").barrier,
        Some(Barrier {
            branches_finished: 1,
            first_finished: ms(40),
            last_finished: ms(40),
            wait: Duration::ZERO,
        })
    );

    let p = plan! { each(all, timeout = 25ms) { item } };
    let (out, report) = p.run(vec![10, 50]).reported().await;
    assert!(out.unwrap_err().is_timeout());
    assert_node(&report, "each", 0, 25, Outcome::TimedOut { after: ms(25) });
    let items: Vec<_> = report
        .find_all("item")
        .map(|n| (n.end, n.outcome.clone()))
        .collect();
    assert_eq!(items.len(), 2);
    assert!(items.contains(&(Some(ms(10)), Outcome::Ok)));
    assert!(items.contains(&(Some(ms(25)), Outcome::Cancelled)));
}

/// `#[retry(3)]` on a step that fails twice: one record, three attempts, `Ok`, spanning all
/// three attempts; the timeline says so.
#[tokio::test(start_paused = true)]
async fn a_retried_step_counts_its_attempts_and_ends_ok() {
    let p = plan! { #[retry(3)] #[name = "flaky"] flaky(2, &[10, 10, 10]) };
    let (out, report) = p.run(7).reported().await;
    assert_eq!(out.unwrap(), 7);
    assert_eq!(report.nodes.len(), 2);
    let step = node(&report, "flaky");
    assert_eq!(step.attempts, 3);
    assert_node(&report, "flaky", 0, 30, Outcome::Ok);
    assert_eq!(node(&report, "plan").attempts, 1);
    let chart = report.timeline().to_string();
    assert!(
        chart
            .lines()
            .any(|l| l.starts_with("  flaky") && l.ends_with("ok, 3 attempts")),
        "{chart}"
    );

    // Out of attempts: the last failure, after two attempts.
    let p = plan! { #[retry(2)] #[name = "flaky"] flaky(5, &[10, 10]) };
    let (out, report) = p.run(7).reported().await;
    let err = out.unwrap_err();
    assert_eq!(err.step_error::<Fail>(), Some(&Fail(2)));
    assert_eq!(node(&report, "flaky").attempts, 2);
    assert_node(&report, "flaky", 0, 20, failed_step(&err));
}

/// `#[retry(2)] #[timeout(50ms)]` (retry outermost): the first attempt times out, the second
/// succeeds, and the node ends `Ok` — the first attempt's deadline does not stick.
#[tokio::test(start_paused = true)]
async fn a_retry_around_a_timeout_ends_ok_when_a_later_attempt_succeeds() {
    let p = plan! { #[retry(2)] #[timeout(50ms)] #[name = "slow_then_fast"] flaky(0, &[80, 10]) };
    let (out, report) = p.run(4).reported().await;
    assert_eq!(out.unwrap(), 4);
    let step = node(&report, "slow_then_fast");
    assert_eq!(step.attempts, 2);
    assert_node(&report, "slow_then_fast", 0, 60, Outcome::Ok);
}

/// `#[timeout(50ms)] #[retry(3)]` (timeout outermost): one deadline for all the attempts; the
/// node is `TimedOut` during its second attempt.
#[tokio::test(start_paused = true)]
async fn a_timeout_around_a_retry_times_out_all_attempts_together() {
    let p = plan! { #[timeout(50ms)] #[retry(3)] #[name = "flaky"] flaky(3, &[30, 30, 30]) };
    let (out, report) = p.run(4).reported().await;
    assert!(out.unwrap_err().is_timeout());
    let step = node(&report, "flaky");
    assert_eq!(step.attempts, 2);
    assert_node(&report, "flaky", 0, 50, Outcome::TimedOut { after: ms(50) });
}

/// A panicking step is `Failed { error: "panicked" }`. In `par(settled)` the panic is that
/// branch's outcome and the group is `Ok`; uncaught, it fails every node up to the root.
#[tokio::test(start_paused = true)]
async fn a_panicking_step_is_failed_panicked() {
    let p = plan! { a >> par(settled) { b, boom } };
    let (out, report) = p.run(1).reported().await;
    let (first, second) = out.unwrap();
    assert_eq!(first.unwrap(), 4);
    assert!(second.unwrap_err().is_panic());
    let boom_node = node(&report, "boom");
    assert!(matches!(
        boom_node.outcome,
        Outcome::Failed {
            error: "panicked",
            ..
        }
    ));
    assert_eq!((boom_node.start, boom_node.end), (ms(10), Some(ms(10))));
    assert_node(&report, "b", 10, 50, Outcome::Ok);
    assert_node(&report, "par", 10, 50, Outcome::Ok);
    assert_node(&report, "plan", 0, 50, Outcome::Ok);

    let p = plan! { a >> boom >> a };
    let (out, report) = p.run(1).reported().await;
    assert!(out.unwrap_err().is_panic());
    for name in ["boom", "plan"] {
        let n = node(&report, name);
        assert!(
            matches!(
                n.outcome,
                Outcome::Failed {
                    error: "panicked",
                    ..
                }
            ),
            "{name}: {}",
            n.outcome
        );
        assert_eq!(n.end, Some(ms(10)));
    }
    assert_eq!(report.find_all("a").count(), 1);
}

/// A run dropped from outside: everything in flight is `Cancelled` at the moment of the drop;
/// what had finished keeps its outcome.
#[tokio::test(start_paused = true)]
async fn every_node_in_flight_is_cancelled_when_the_run_is_dropped() {
    let p = plan! { a >> par(all) { b, c } >> d };
    let recorder = Recorder::new();
    let cut = tokio::time::timeout(ms(25), p.run(1).monitor(&recorder)).await;
    assert!(cut.is_err());
    let report = recorder.into_report();
    assert_node(&report, "a", 0, 10, Outcome::Ok);
    for name in ["plan", "par", "b", "c"] {
        let n = node(&report, name);
        assert_eq!(
            (n.end, &n.outcome),
            (Some(ms(25)), &Outcome::Cancelled),
            "{name}"
        );
    }
    assert!(report.find("d").is_none());
}

// ---------------------------------------------------------------------------------------------
// Parents and paths

/// Parent ids form the plan's tree: the root has none, the steps of the top chain have the
/// root, branches have their `par`. Paths are those of the plan's nodes.
#[tokio::test(start_paused = true)]
async fn parents_and_paths_form_the_tree_of_the_plan() {
    let p = plan! { a >> par(all) { b, c >> inc } >> d };
    let (_, report) = p.run(1).reported().await;
    assert_well_formed(&report);
    let tree: Vec<_> = report
        .nodes
        .iter()
        .map(|n| (n.name, n.parent.map(|p| report.nodes[p].name), &*n.path))
        .collect();
    assert_eq!(
        tree,
        [
            ("plan", None, ""),
            ("a", Some("plan"), "0"),
            ("par", Some("plan"), "1"),
            ("b", Some("par"), "1/0"),
            ("c", Some("par"), "1/1/0"),
            ("inc", Some("par"), "1/1/1"),
            ("d", Some("plan"), "2"),
        ]
    );
    let root_children: Vec<_> = report.children(0).map(|n| n.name).collect();
    assert_eq!(root_children, ["a", "par", "d"]);
    let par = node(&report, "par");
    assert_eq!(par.policy, Some("all"));
    assert_eq!(par.kind, NodeKind::Par);
    let par_children: Vec<_> = report.children(par.id).map(|n| n.name).collect();
    assert_eq!(par_children, ["b", "c", "inc"]);
    assert_eq!(node(&report, "a").location.file, file!());
}

/// A plan used as a step of another, two levels deep: its nodes sit under the step that runs
/// it, with full paths through that step — the same paths as the errors they raise.
#[tokio::test(start_paused = true)]
async fn nested_plans_have_full_paths_like_errors() {
    let innermost = plan! { #![name = "innermost"] a >> #[name = "broken"] fail_after(9, 5) };
    let inner = plan! { #![name = "inner"] a >> innermost };
    let outer = plan! { a >> inner >> a };
    let (out, report) = outer.run(1).reported().await;
    let err = out.unwrap_err();
    assert_well_formed(&report);

    let broken = node(&report, "broken");
    assert_eq!(&*broken.path, err.node().path);
    assert_eq!(&*broken.path, "1/1/1");
    assert_eq!(broken.outcome, failed_step(&err));
    assert_eq!((broken.start, broken.end), (ms(30), Some(ms(35))));

    let tree = tree(&report);
    assert_eq!(
        tree,
        [
            ("plan", NodeKind::Plan, None, ""),
            ("a", NodeKind::Step, Some(0), "0"),
            ("inner", NodeKind::Step, Some(0), "1"),
            ("inner", NodeKind::Plan, Some(2), "1"),
            ("a", NodeKind::Step, Some(3), "1/0"),
            ("innermost", NodeKind::Step, Some(3), "1/1"),
            ("innermost", NodeKind::Plan, Some(5), "1/1"),
            ("a", NodeKind::Step, Some(6), "1/1/0"),
            ("broken", NodeKind::Step, Some(6), "1/1/1"),
        ]
    );
    // Busy time counts the steps inside, not the steps that run a nested plan.
    assert_eq!(report.busy, ms(10 + 10 + 10 + 5));
}

/// Every item of an `each` and every pass of a loop is its own instance, with the same path.
#[tokio::test(start_paused = true)]
async fn each_items_and_loop_passes_get_their_own_instances() {
    let p = plan! { each(all) { item } };
    let (_, report) = p.run(vec![5, 15, 10]).reported().await;
    let each = node(&report, "each");
    let items: Vec<_> = report.children(each.id).collect();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|n| n.name == "item" && &*n.path == "0/0"));
    let mut ends: Vec<_> = items.iter().map(|n| n.end.unwrap()).collect();
    ends.sort();
    assert_eq!(ends, [ms(5), ms(10), ms(15)]);

    let p = plan! { loop(until = (|x: &u32| *x >= 4), max = 10) { a } };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), 4);
    let lp = node(&report, "loop");
    assert_eq!(lp.kind, NodeKind::Loop);
    let passes: Vec<_> = report
        .children(lp.id)
        .map(|n| (n.name, &*n.path, n.start, n.end.unwrap()))
        .collect();
    assert_eq!(
        passes,
        [
            ("a", "0/0", ms(0), ms(10)),
            ("a", "0/0", ms(10), ms(20)),
            ("a", "0/0", ms(20), ms(30)),
        ]
    );
    assert_eq!(report.find_all("a").count(), 3);
}

/// Only the chosen arm of a `choose` has a record, under the `choose`; a `blocking` step is
/// recorded with its kind.
#[tokio::test(start_paused = true)]
async fn a_choose_records_only_the_chosen_arm() {
    let p = plan! { a >> choose { if (|x: &u32| *x % 2 == 1) => b, else => c } >> blocking(inc) };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), 2 * 3 + 1);
    let tree = tree(&report);
    assert_eq!(
        tree,
        [
            ("plan", NodeKind::Plan, None, ""),
            ("a", NodeKind::Step, Some(0), "0"),
            ("choose", NodeKind::Choose, Some(0), "1"),
            ("c", NodeKind::Step, Some(2), "1/1"),
            ("blocking(inc)", NodeKind::Blocking, Some(0), "2"),
        ]
    );
    assert_node(&report, "c", 10, 40, Outcome::Ok);
    assert!(
        report.find("b").is_none(),
        "the arm not chosen never started"
    );
}

/// A recorder used for a second run adds that run's nodes to the same report, timed from the
/// first run's start (as documented).
#[tokio::test(start_paused = true)]
async fn a_recorder_reused_for_a_second_run_adds_to_the_same_report() {
    let p = plan! { a };
    let recorder = Recorder::new();
    p.run(1).monitor(&recorder).await.unwrap();
    p.run(2).monitor(&recorder).await.unwrap();
    let report = recorder.into_report();
    let runs: Vec<_> = report
        .nodes
        .iter()
        .map(|n| (n.name, n.parent, n.start, n.end.unwrap()))
        .collect();
    assert_eq!(
        runs,
        [
            ("plan", None, ms(0), ms(10)),
            ("a", Some(0), ms(0), ms(10)),
            ("plan", None, ms(10), ms(20)),
            ("a", Some(2), ms(10), ms(20)),
        ]
    );
    assert_eq!((report.wall, report.busy), (ms(20), ms(20)));
}

// ---------------------------------------------------------------------------------------------
// Chrome trace

/// The trace as a `serde_json::Value`, after a round trip through its JSON text.
fn chrome_json(report: &RunReport) -> Value {
    let text = serde_json::to_string(&report.chrome_trace()).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The complete (`X`) events of a trace.
fn complete_events(trace: &Value) -> Vec<&Value> {
    trace["traceEvents"]
        .as_array()
        .expect("traceEvents is an array")
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect()
}

/// `(tid, ts, end, id)` of a complete event.
fn interval(e: &Value) -> (u64, u64, u64, u64) {
    let ts = e["ts"].as_u64().unwrap();
    (
        e["tid"].as_u64().unwrap(),
        ts,
        ts + e["dur"].as_u64().unwrap(),
        e["args"]["id"].as_u64().unwrap(),
    )
}

/// On every lane, any two events are disjoint or one contains the other.
#[track_caller]
fn assert_lanes_nest(trace: &Value) {
    let events: Vec<_> = complete_events(trace).into_iter().map(interval).collect();
    for (i, &(tid1, s1, e1, id1)) in events.iter().enumerate() {
        for &(tid2, s2, e2, id2) in &events[i + 1..] {
            if tid1 != tid2 {
                continue;
            }
            let disjoint = e1 <= s2 || e2 <= s1;
            let nested = (s1 <= s2 && e2 <= e1) || (s2 <= s1 && e1 <= e2);
            assert!(
                disjoint || nested,
                "events {id1} [{s1}, {e1}] and {id2} [{s2}, {e2}] overlap on lane {tid1}"
            );
        }
    }
}

/// Every field of every event, checked against the report.
#[track_caller]
fn assert_trace_matches(trace: &Value, report: &RunReport) {
    assert_eq!(trace["displayTimeUnit"], "ms");
    let all = trace["traceEvents"].as_array().unwrap();
    let complete = complete_events(trace);
    assert_eq!(
        complete.len(),
        report.nodes.len(),
        "one X event per instance"
    );
    let mut seen = vec![false; report.nodes.len()];
    let mut tids = Vec::new();
    for e in &complete {
        let id = e["args"]["id"].as_u64().expect("args.id") as usize;
        assert!(!seen[id], "instance {id} twice");
        seen[id] = true;
        let n = &report.nodes[id];
        let end = n.end.unwrap_or(report.wall);
        assert_eq!(e["name"], n.label().to_string());
        assert_eq!(e["cat"], n.kind.as_str());
        assert_eq!(e["ts"].as_u64(), Some(micros(n.start)), "ts of {}", n.name);
        assert_eq!(
            e["dur"].as_u64(),
            Some(micros(end - n.start)),
            "dur of {}",
            n.name
        );
        assert_eq!(e["pid"], 1);
        let tid = e["tid"].as_u64().expect("tid");
        assert!(tid >= 1);
        tids.push(tid);
        let args = &e["args"];
        assert_eq!(args["path"], *n.path);
        assert_eq!(args["outcome"], n.outcome.to_string());
        assert_eq!(args["attempts"], n.attempts);
        assert_eq!(args["parent"], json!(n.parent));
        assert_eq!(args["location"], n.location.to_string());
        assert_eq!(args["policy"], json!(n.policy));
    }
    // Every lane used is named once, by a metadata event.
    tids.sort_unstable();
    tids.dedup();
    let mut named: Vec<_> = all
        .iter()
        .filter(|e| e["ph"] == "M")
        .map(|e| {
            assert_eq!(e["name"], "thread_name");
            assert!(e["args"]["name"].as_str().unwrap().starts_with("lane "));
            e["tid"].as_u64().unwrap()
        })
        .collect();
    named.sort_unstable();
    assert_eq!(named, tids);
    assert_eq!(
        all.len(),
        complete.len() + named.len(),
        "only X and M events"
    );
}

type Outcome4<T> = (
    Result<u32, PlanError>,
    Result<u32, PlanError>,
    Result<T, PlanError>,
    Result<u32, PlanError>,
);

fn items_25_5_15(_: Outcome4<(u32, u32)>) -> Vec<u64> {
    vec![25, 5, 15]
}

/// The trace of a plan with concurrent branches, nested groups, an `each` and outcomes other
/// than ok parses back and has every required field, matching the report in microseconds; the
/// events of each lane nest properly.
#[tokio::test(start_paused = true)]
async fn the_chrome_trace_parses_and_has_the_required_fields() {
    let line = line!() + 3; // the groups'
    let p = plan! {
        a
        >> par(settled) { b, c, par(all) { nap(20), nap(35) }, #[timeout(15ms)] nap(40) }
        >> items_25_5_15
        >> each(all, limit = 2) { item }
    };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), [25, 5, 15]);
    let trace = chrome_json(&report);
    assert_trace_matches(&trace, &report);
    assert_lanes_nest(&trace);
    // Concurrent branches need more than one lane.
    let lanes: std::collections::BTreeSet<_> = complete_events(&trace)
        .into_iter()
        .map(|e| interval(e).0)
        .collect();
    assert!(lanes.len() > 1, "{trace:#}");
    let timed_out = complete_events(&trace)
        .into_iter()
        .find(|e| e["args"]["path"] == "1/3")
        .unwrap();
    assert_eq!(timed_out["args"]["outcome"], "timed out after 15ms");
    assert_eq!(
        (timed_out["ts"].as_u64(), timed_out["dur"].as_u64()),
        (Some(10_000), Some(15_000))
    );
    // Steps go by their names; unnamed groups by their policy and place.
    let names: Vec<_> = complete_events(&trace)
        .into_iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    for name in [
        "a".to_owned(),
        "b".to_owned(),
        format!("par(settled) at report.rs:{line}"),
        format!("par(all) at report.rs:{line}"),
        format!("each(all) at report.rs:{}", line + 2),
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

/// A plan where nothing waits: every event has `ts` 0 and `dur` 0, and the lanes still nest.
#[tokio::test(start_paused = true)]
async fn the_chrome_trace_of_an_instant_run_nests() {
    let p = plan! {
        inc >> par(all) { inc, inc >> inc } >> add >> (|x: u32| vec![x, x]) >> each(all) { inc }
    };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), [8, 8]);
    let trace = chrome_json(&report);
    assert_trace_matches(&trace, &report);
    assert_lanes_nest(&trace);
    assert!(
        complete_events(&trace)
            .iter()
            .all(|e| e["ts"] == 0 && e["dur"] == 0)
    );
}

/// The lanes are there so that concurrent branches are drawn side by side (README: "concurrent
/// branches on separate lanes"): when two events on one lane overlap, the outer one is an
/// ancestor of the inner one, never a sibling that merely lasts longer — a viewer would draw
/// the shorter branch as if the longer one had called it.
#[tokio::test(start_paused = true)]
async fn the_chrome_trace_never_nests_a_branch_inside_its_sibling() {
    let p = plan! { par(all) { #[name = "long"] nap(100), #[name = "short"] nap(10) } };
    let (_, report) = p.run(1).reported().await;
    let trace = chrome_json(&report);
    let mut events: Vec<_> = complete_events(&trace).into_iter().map(interval).collect();
    events.sort_by_key(|&(_, _, _, id)| id);
    let is_ancestor = |candidate: u64, id: u64| {
        std::iter::successors(report.nodes[id as usize].parent, |&p| {
            report.nodes[p].parent
        })
        .any(|p| p as u64 == candidate)
    };
    // Ids are in start order, so of two overlapping events the earlier one is the outer one.
    for (i, &(tid1, s1, e1, id1)) in events.iter().enumerate() {
        for &(tid2, s2, e2, id2) in &events[i + 1..] {
            if tid1 == tid2 && s1.max(s2) < e1.min(e2) {
                assert!(
                    is_ancestor(id1, id2),
                    "`{}` is drawn inside `{}` on lane {tid1}, which is not its ancestor",
                    report.nodes[id2 as usize].name,
                    report.nodes[id1 as usize].name,
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// Checks the event stream of a finished run against its report: per instance, one `Started`
/// first and one `Finished` last with `Retrying` between; children inside their parents;
/// timestamps non-decreasing; and the times, outcomes and attempts of the report.
#[track_caller]
fn assert_events_agree(events: &[Event], report: &RunReport) {
    let mut by_id: BTreeMap<usize, Vec<(usize, &Event)>> = BTreeMap::new();
    for (position, e) in events.iter().enumerate() {
        by_id.entry(e.id).or_default().push((position, e));
    }
    assert_eq!(by_id.len(), report.nodes.len(), "events for every instance");
    for pair in events.windows(2) {
        assert!(pair[0].at <= pair[1].at, "time goes back: {pair:?}");
    }
    let mut started_at = HashMap::new();
    let mut finished_at = HashMap::new();
    for (&id, list) in &by_id {
        let n = &report.nodes[id];
        let (first, last) = (list[0], list[list.len() - 1]);
        assert_eq!(
            first.1.kind,
            EventKind::Started,
            "`{}` starts first",
            n.name
        );
        assert_eq!(
            last.1.kind,
            EventKind::Finished {
                outcome: n.outcome.clone()
            },
            "`{}` finishes last, as in the report",
            n.name
        );
        let middle = &list[1..list.len() - 1];
        let retries: Vec<u32> = middle
            .iter()
            .map(|(_, e)| match &e.kind {
                EventKind::Retrying { attempt, .. } => *attempt,
                other => panic!("`{}`: {other:?} between start and finish", n.name),
            })
            .collect();
        assert_eq!(retries, (1..n.attempts).collect::<Vec<_>>(), "`{}`", n.name);
        assert_eq!(first.1.at, n.start);
        assert_eq!(Some(last.1.at), n.end);
        for (_, e) in list {
            assert_eq!((e.parent, e.name, e.node_kind), (n.parent, n.name, n.kind));
            assert_eq!((&e.path, e.label), (&n.path, n.label()));
        }
        started_at.insert(id, first.0);
        finished_at.insert(id, last.0);
    }
    for n in &report.nodes {
        if let Some(p) = n.parent {
            let parent = report.nodes[p].name;
            assert!(
                started_at[&p] < started_at[&n.id],
                "`{}` started before its parent `{parent}`",
                n.name
            );
            assert!(
                finished_at[&n.id] < finished_at[&p],
                "`{}` finished after its parent `{parent}`",
                n.name
            );
        }
    }
}

/// When a subtree is dropped — a losing `par(first)` branch that is a construct, or a whole
/// run dropped from outside — its nodes still finish children first, as `Event` documents
/// ("an instance starts after its parent and finishes before it").
#[tokio::test(start_paused = true)]
async fn a_cancelled_subtree_finishes_children_before_their_parent() {
    let p = plan! {
        par(first) { #[name = "loser"] seq { nap(30) >> nap(30) }, #[name = "winner"] nap(10) }
    };
    let (recorder, events) = Recorder::with_events();
    assert_eq!(p.run(1).monitor(&recorder).await.unwrap(), 1);
    let report = recorder.into_report();
    assert_eq!(node(&report, "loser").outcome, Outcome::Cancelled);
    assert_events_agree(&events.collect::<Vec<_>>().await, &report);

    let p = plan! { a >> par(all) { b, c } >> d };
    let (recorder, events) = Recorder::with_events();
    let cut = tokio::time::timeout(ms(25), p.run(1).monitor(&recorder)).await;
    assert!(cut.is_err());
    let report = recorder.into_report();
    assert_events_agree(&events.collect::<Vec<_>>().await, &report);
}

fn settle((w, x, y, z): Outcome4<u32>) -> u32 {
    [w, x, y, z].into_iter().map(|r| r.unwrap_or(0)).sum()
}

fn spread(x: u32) -> Vec<u64> {
    vec![u64::from(x), 5, 1]
}

fn count(items: Vec<u64>) -> u32 {
    items.len() as u32
}

/// A run with retries, a deadline, a failure, a panic, losers of a race, a nested plan and
/// an `each`: its event stream is in a valid order and agrees with the final report.
#[tokio::test(start_paused = true)]
async fn events_arrive_in_a_valid_order_and_agree_with_the_report() {
    let inner = plan! { #![name = "inner"] a >> a };
    let line = line!() + 1;
    let p = plan! {
        a
        >> par(settled) {
            #[retry(3)] #[name = "flaky"] flaky(2, &[5, 5, 5]),
            #[timeout(15ms)] #[name = "late"] nap(40),
            #[name = "broken"] fail_after(1, 5),
            boom
        }
        >> settle
        >> par(first) { #[name = "loser"] nap(30), #[name = "winner"] nap(10) }
        >> inner
        >> spread
        >> each(all, limit = 2) { item }
        >> count
    };
    let (recorder, events) = Recorder::with_events();
    let out = p.run(1).monitor(&recorder).await;
    assert_eq!(out.unwrap(), 3);
    let report = recorder.report();
    drop(recorder);
    let events: Vec<Event> = events.collect().await;
    assert_well_formed(&report);
    assert_events_agree(&events, &report);
    // Displays get each node's label: unnamed groups by policy and place.
    let labels: Vec<String> = events.iter().map(|e| e.label.to_string()).collect();
    for label in [
        "flaky".to_owned(),
        format!("par(settled) at report.rs:{}", line + 2),
        format!("par(first) at report.rs:{}", line + 9),
        format!("each(all) at report.rs:{}", line + 12),
    ] {
        assert!(labels.contains(&label), "{label} in {labels:?}");
    }

    // A few of the outcomes, to be sure the run had them.
    assert_eq!(node(&report, "flaky").attempts, 3);
    assert_eq!(
        node(&report, "late").outcome,
        Outcome::TimedOut { after: ms(15) }
    );
    assert_eq!(node(&report, "loser").outcome, Outcome::Cancelled);
    let retrying: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Retrying { attempt, error } => Some((e.name, *attempt, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retrying.len(), 2);
    assert_eq!((retrying[0].0, retrying[0].1), ("flaky", 1));
    assert!(
        retrying[0].2.ends_with("step 1 failed"),
        "{}",
        retrying[0].2
    );
    assert!(
        retrying[1].2.ends_with("step 2 failed"),
        "{}",
        retrying[1].2
    );

    // Events serialize flat, with their kind as `event`.
    let last = serde_json::to_value(events.last().unwrap()).unwrap();
    assert_eq!(last["event"], "finished");
    assert_eq!(last["name"], "plan");
    assert_eq!(last["outcome"]["status"], "ok");
    assert_eq!(last["at_us"], micros(report.wall));
}

/// The stream ends when the recorder is dropped, or turned into its report; not before.
#[tokio::test(start_paused = true)]
async fn the_event_stream_ends_when_the_recorder_goes() {
    let p = plan! { a >> inc };
    let (recorder, mut events) = Recorder::with_events();
    p.run(1).monitor(&recorder).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(events.next().await.unwrap());
    }
    // The run is over, but the recorder lives: the stream is open and empty.
    let pending = tokio::time::timeout(ms(1000), events.next()).await;
    assert!(
        pending.is_err(),
        "no event and no end while the recorder lives"
    );
    drop(recorder);
    assert!(events.next().await.is_none());
    let names: Vec<_> = seen.iter().map(|e| (e.name, e.kind.clone())).collect();
    assert_eq!(
        names,
        [
            ("plan", EventKind::Started),
            ("a", EventKind::Started),
            (
                "a",
                EventKind::Finished {
                    outcome: Outcome::Ok
                }
            ),
            ("inc", EventKind::Started),
            (
                "inc",
                EventKind::Finished {
                    outcome: Outcome::Ok
                }
            ),
            (
                "plan",
                EventKind::Finished {
                    outcome: Outcome::Ok
                }
            ),
        ]
    );

    let (recorder, events) = Recorder::with_events();
    p.run(1).monitor(&recorder).await.unwrap();
    let report = recorder.into_report();
    let events: Vec<_> = tokio::time::timeout(ms(1000), events.collect::<Vec<_>>())
        .await
        .expect("the stream ends with into_report");
    assert_events_agree(&events, &report);

    // Nobody listening: the run and its report are unaffected.
    let (recorder, events) = Recorder::with_events();
    drop(events);
    assert_eq!(p.run(1).monitor(&recorder).await.unwrap(), 3);
    assert_eq!(recorder.into_report(), report);
}

/// Events arrive while the plan runs: a consumer sees a step start while that step is still
/// waiting for the consumer to let it go; the report taken at that moment shows the unfinished
/// nodes as `Running`, in its figures, timeline and JSON.
#[tokio::test(start_paused = true)]
async fn events_and_reports_are_live_while_the_plan_runs() {
    let (open, gate) = oneshot::channel::<()>();
    let gate = Mutex::new(Some(gate));
    let gated = move |x: u32| {
        let gate = gate.lock().unwrap().take().expect("called once");
        async move {
            gate.await.unwrap();
            x
        }
    };
    let p = plan! { a >> #[name = "gate"] gated >> a };
    let (recorder, mut events) = Recorder::with_events();
    let watch = async {
        let mut seen = Vec::new();
        while let Some(event) = events.next().await {
            let gate_started = event.name == "gate" && event.kind == EventKind::Started;
            seen.push(event);
            if gate_started {
                break;
            }
        }
        let mid = recorder.report();
        open.send(()).unwrap();
        (seen, mid)
    };
    let (out, (seen, mid)) = tokio::time::timeout(ms(1000), async {
        tokio::join!(p.run(1).monitor(&recorder), watch)
    })
    .await
    .expect("the consumer saw the gate start while the plan ran");
    assert_eq!(out.unwrap(), 3);

    let seen: Vec<_> = seen
        .iter()
        .map(|e| (e.name, e.at, e.kind.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("plan", ms(0), EventKind::Started),
            ("a", ms(0), EventKind::Started),
            (
                "a",
                ms(10),
                EventKind::Finished {
                    outcome: Outcome::Ok
                }
            ),
            ("gate", ms(10), EventKind::Started),
        ]
    );

    // The report mid-run.
    let outcomes: Vec<_> = mid
        .nodes
        .iter()
        .map(|n| (n.name, n.end, n.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("plan", None, Outcome::Running),
            ("a", Some(ms(10)), Outcome::Ok),
            ("gate", None, Outcome::Running),
        ]
    );
    assert_eq!((mid.wall, mid.busy), (ms(10), ms(10)));
    assert_eq!(
        mid.timeline().width(10).to_string(),
        "\
plan    0 ms ┃··········┃     …  running
  a     0 ms ┃██████████┃ 10 ms  ok
  gate 10 ms ┃         ·┃     …  running
"
    );
    // Unfinished nodes run to the end of the report in the trace.
    let trace = chrome_json(&mid);
    assert_trace_matches(&trace, &mid);
    assert_lanes_nest(&trace);
    let json = serde_json::to_value(&mid).unwrap();
    assert_eq!(json["nodes"][0]["end_us"], Value::Null);
    assert_eq!(json["nodes"][0]["outcome"], json!({ "status": "running" }));

    // The rest of the stream, then its end.
    drop(recorder);
    let rest: Vec<_> = events
        .map(|e| (e.name, e.at, e.kind))
        .collect::<Vec<_>>()
        .await;
    assert_eq!(
        rest,
        [
            (
                "gate",
                ms(10),
                EventKind::Finished {
                    outcome: Outcome::Ok
                }
            ),
            ("a", ms(10), EventKind::Started),
            (
                "a",
                ms(20),
                EventKind::Finished {
                    outcome: Outcome::Ok
                }
            ),
            (
                "plan",
                ms(20),
                EventKind::Finished {
                    outcome: Outcome::Ok
                }
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Serde

/// The report serializes with times in whole microseconds (`_us`) and outcomes tagged by
/// `status`; barriers only on groups.
#[tokio::test(start_paused = true)]
async fn the_report_serializes_with_micros_and_tagged_outcomes() {
    let p = plan! {
        a >> par(settled) {
            #[timeout(25ms)] #[name = "late"] nap(40),
            #[name = "broken"] fail_after(7, 5),
            #[name = "race"] par(first) { #[name = "loser"] nap(40), #[name = "winner"] nap(20) }
        }
    };
    let (out, report) = p.run(1).reported().await;
    let (_, broken_err, _) = out.unwrap();
    let broken_err = broken_err.unwrap_err();
    let json = serde_json::to_value(&report).unwrap();

    assert_eq!(json["wall_us"], 35_000);
    assert_eq!(json["busy_us"], 10_000 + 25_000 + 5_000 + 20_000 + 20_000);
    assert_eq!(json["concurrency"], report.concurrency);
    let nodes = json["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), report.nodes.len());
    let by_name = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap();

    let late = by_name("late");
    assert_eq!(late["kind"], "step");
    assert_eq!(late["path"], "1/0");
    assert_eq!(late["start_us"], 10_000);
    assert_eq!(late["end_us"], 35_000);
    assert_eq!(late["attempts"], 1);
    assert_eq!(
        late["outcome"],
        json!({ "status": "timed_out", "after_us": 25_000 })
    );
    assert_eq!(late["policy"], Value::Null);
    assert!(late.get("barrier").is_none(), "no barrier on a step");
    assert_eq!(late["location"]["file"], file!());
    assert_eq!(late["id"], report.find("late").unwrap().id);
    assert_eq!(late["parent"], report.find("par").unwrap().id);

    assert_eq!(
        by_name("broken")["outcome"],
        json!({ "status": "failed", "error": "step", "message": broken_err.to_string() })
    );
    assert_eq!(
        by_name("loser")["outcome"],
        json!({ "status": "cancelled" })
    );
    assert_eq!(by_name("winner")["outcome"], json!({ "status": "ok" }));

    let par = by_name("par");
    assert_eq!(par["kind"], "par");
    assert_eq!(par["policy"], "settled");
    assert_eq!(
        par["barrier"],
        json!({
            "branches_finished": 3,
            "first_finished_us": 15_000,
            "last_finished_us": 35_000,
            "wait_us": 20_000,
        })
    );
    assert_eq!(by_name("race")["policy"], "first");
    assert_eq!(
        by_name("race")["barrier"],
        json!({
            "branches_finished": 1,
            "first_finished_us": 30_000,
            "last_finished_us": 30_000,
            "wait_us": 0,
        })
    );
    assert_eq!(by_name("plan")["parent"], Value::Null);
    assert_eq!(by_name("plan")["path"], "");
}

// ---------------------------------------------------------------------------------------------
// Timeline

/// The timeline of a small plan with failed, timed-out and cancelled rows, exactly; and the
/// `Display` of the report: the timeline, then the wall/busy/concurrency and barrier lines.
#[tokio::test(start_paused = true)]
async fn the_timeline_text_is_exact() {
    let p = plan! { #![name = "demo"] a >> par(all) { #[timeout(25ms)] #[name = "late"] b, c } };
    let line = line!() - 1;
    let (out, report) = p.run(1).reported().await;
    assert!(out.unwrap_err().is_timeout());
    let chart = report.timeline().width(20).to_string();
    assert_eq!(
        chart,
        format!(
            "\
demo                          0 ms ┃▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓┃ 35 ms  failed (timeout)
  a                           0 ms ┃██████              ┃ 10 ms  ok
  par(all) at report.rs:{line} 10 ms ┃     ▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓┃ 25 ms  failed (timeout)
    late                     10 ms ┃     ▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒┃ 25 ms  timed out after 25ms
    c                        10 ms ┃     ░░░░░░░░░░░░░░░┃ 25 ms  cancelled
"
        )
    );
    assert_eq!(
        report.to_string(),
        format!(
            "{}\
wall 35 ms · busy 60 ms · concurrency 1.71
barrier wait of `par(all) at report.rs:{line}` at 1: 0 ms (1 branch finished)
",
            report.timeline(),
        )
    );
    // Rendering twice gives the same text.
    assert_eq!(report.timeline().width(20).to_string(), chart);
}

/// The figures under a timeline for a plan whose groups all finished, including a group at the
/// root and short durations.
#[tokio::test(start_paused = true)]
async fn the_report_display_lists_every_barrier_wait() {
    let p = plan! { par(all) { nap(3), #[name = "inner"] par(all) { nap(1), nap(2) } } };
    let line = line!() - 1;
    let (_, report) = p.run(1).reported().await;
    let text = report.to_string();
    let figures: Vec<_> = text.lines().skip(report.nodes.len()).collect();
    assert_eq!(
        figures,
        [
            "wall 3.0 ms · busy 6.0 ms · concurrency 2.00".to_owned(),
            format!(
                "barrier wait of `par(all) at report.rs:{line}` at 0: 1.0 ms (2 branches finished)"
            ),
            "barrier wait of `inner` at 0/1: 1.0 ms (2 branches finished)".to_owned(),
        ]
    );
}

/// Timeline rows follow start order, so a loop's passes read in order, except that the steps
/// of one `par` branch stay together; a retried `par` keeps each attempt's rows together.
#[tokio::test(start_paused = true)]
async fn timeline_rows_keep_passes_branches_and_attempts_in_order() {
    let rows = |report: &RunReport| -> Vec<String> {
        report
            .timeline()
            .to_string()
            .lines()
            .map(|line| line.split_whitespace().next().unwrap().to_owned())
            .collect()
    };

    let looped = plan! { loop(while = (|x: &u32| *x < 3), max = 5) { #[name = "x"] nap(1) >> #[name = "y"] inc } };
    let (_, report) = looped.run(1).reported().await;
    assert_eq!(rows(&report), ["plan", "loop", "x", "y", "x", "y"]);

    let branches = plan! {
        par(all) { #[name = "slow"] nap(10) >> #[name = "after_slow"] nap(1), #[name = "fast"] nap(2) >> #[name = "after_fast"] nap(1) }
    };
    let (_, report) = branches.run(1).reported().await;
    // In start order this would be slow, fast, after_fast, after_slow.
    assert_eq!(
        rows(&report),
        [
            "plan",
            "par(all)",
            "slow",
            "after_slow",
            "fast",
            "after_fast"
        ]
    );

    let retried = plan! {
        #[retry(2)] par(all) { #[name = "flaky"] flaky(1, &[10, 10]), #[name = "steady"] nap(20) }
    };
    let (_, report) = retried.run(1).reported().await;
    assert_eq!(
        rows(&report),
        ["plan", "par(all)", "flaky", "steady", "flaky", "steady"]
    );
}

// ---------------------------------------------------------------------------------------------
// Reporting changes nothing

fn odd_fails(x: u32) -> Result<u32, Fail> {
    if x % 2 == 1 { Err(Fail(x)) } else { Ok(x) }
}

/// The same plan run with and without `.reported()` gives the same output, the same error and
/// takes the same time.
#[tokio::test(start_paused = true)]
async fn reporting_does_not_change_results() {
    let p = plan! {
        a
        >> par(all) { b, #[retry(2)] nap(5) >> odd_fails }
        >> d
        >> (|x: u32| vec![x, x + 1])
        >> each(settled) { odd_fails }
    };
    for input in [1, 2] {
        let t0 = Instant::now();
        let plain = p.run(input).await;
        let plain_time = t0.elapsed();
        let t0 = Instant::now();
        let (reported, report) = p.run(input).reported().await;
        assert_eq!(t0.elapsed(), plain_time);
        assert_eq!(report.wall, plain_time);
        match (plain, reported) {
            (Ok(x), Ok(y)) => {
                let show = |v: Vec<Result<u32, PlanError>>| {
                    v.into_iter()
                        .map(|r| r.map_err(|e| e.to_string()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(show(x), show(y));
            }
            (Err(x), Err(y)) => {
                assert_eq!(x.to_string(), y.to_string());
                assert_eq!(x.kind(), y.kind());
                assert_eq!(x.node(), y.node());
                assert_eq!(x.step_error::<Fail>(), y.step_error::<Fail>());
            }
            (x, y) => panic!("input {input}: {x:?} vs {y:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Context

struct Ctx {
    factor: u32,
    delay: Duration,
}

async fn scale(x: u32, ctx: &Ctx) -> u32 {
    tokio::time::sleep(ctx.delay).await;
    x * ctx.factor
}

/// `run_reported_with` passes the context to `&Ctx` steps; a report taken mid-run with
/// `run_recorded` shows the unfinished nodes as `Running`.
#[tokio::test(start_paused = true)]
async fn run_reported_with_passes_the_context() {
    let ctx = Ctx {
        factor: 3,
        delay: ms(10),
    };
    let p = plan! { scale >> par(all) { scale, scale } >> add };
    let (out, report) = p.run(2).ctx(&ctx).reported().await;
    assert_eq!(out.unwrap(), 18 + 18);
    let spans: Vec<_> = report
        .find_all("scale")
        .map(|n| (n.start, n.end.unwrap()))
        .collect();
    assert_eq!(spans, [(ms(0), ms(10)), (ms(10), ms(20)), (ms(10), ms(20))]);
    assert_eq!((report.wall, report.busy), (ms(20), ms(30)));

    let recorder = Recorder::new();
    let peek = async {
        tokio::time::sleep(ms(15)).await;
        recorder.report()
    };
    let (out, mid) = tokio::join!(p.run(2).ctx(&ctx).monitor(&recorder), peek);
    assert_eq!(out.unwrap(), 36);
    let outcomes: Vec<_> = mid
        .nodes
        .iter()
        .map(|n| (n.name, n.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("plan", Outcome::Running),
            ("scale", Outcome::Ok),
            ("par", Outcome::Running),
            ("scale", Outcome::Running),
            ("scale", Outcome::Running),
        ]
    );
    assert_eq!(mid.busy, ms(10), "only finished steps count");
    assert_eq!(recorder.into_report().nodes.len(), 6);
}

// ---------------------------------------------------------------------------------------------
// Found in review

/// The root's record ends with the run's own error, so a caught panic's message is in it.
#[tokio::test(start_paused = true)]
async fn the_root_of_a_panicked_run_carries_the_panic_message() {
    let p = plan! { a >> boom };
    let (out, report) = p.run(1).reported().await;
    let err = out.unwrap_err();
    assert_eq!(node(&report, "plan").outcome, failed("panicked", &err));
    assert!(err.to_string().contains("boom"));
}

/// Runs sharing one recorder on a multi-threaded runtime, polled at the same time on several
/// threads, each keep their own tree: one root per run, and every node's parent is in its
/// own run's tree.
#[test]
fn runs_sharing_a_recorder_across_threads_keep_their_own_trees() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let p = Arc::new(plan! { inc >> par(all) { inc, inc } >> add >> inc });
    let recorder = Arc::new(Recorder::new());
    rt.block_on(async {
        let runs: Vec<_> = (0..8)
            .map(|_| {
                let (p, recorder) = (p.clone(), recorder.clone());
                tokio::spawn(async move {
                    for _ in 0..50 {
                        p.run(1).monitor(&*recorder).await.unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for run in runs {
            run.await.unwrap();
        }
    });
    let report = recorder.report();
    let roots: Vec<_> = report.nodes.iter().filter(|n| n.parent.is_none()).collect();
    assert_eq!(roots.len(), 8 * 50);
    assert!(roots.iter().all(|n| n.name == "plan" && n.path.is_empty()));
    // Every run has the same shape: 1 root, 1 seq-free chain of 3 steps, a par of 2.
    let root_of = |mut id: usize| {
        while let Some(parent) = report.nodes[id].parent {
            id = parent;
        }
        id
    };
    let mut per_run: HashMap<usize, Vec<(&str, Option<&str>)>> = HashMap::new();
    for n in &report.nodes {
        let parent = n.parent.map(|p| report.nodes[p].name);
        per_run
            .entry(root_of(n.id))
            .or_default()
            .push((n.name, parent));
    }
    for nodes in per_run.values() {
        let mut nodes = nodes.clone();
        nodes.sort_unstable();
        assert_eq!(
            nodes,
            [
                ("add", Some("plan")),
                ("inc", Some("par")),
                ("inc", Some("par")),
                ("inc", Some("plan")),
                ("inc", Some("plan")),
                ("par", Some("plan")),
                ("plan", None),
            ]
        );
    }
}

/// On the real clock, times are not whole microseconds; rounding both ends of every event the
/// same way keeps children inside their parents in the trace.
#[tokio::test]
async fn the_chrome_trace_nests_on_the_real_clock() {
    let p = plan! {
        inc >> par(all) { inc, inc >> inc } >> add
        >> loop(while = (|x: &u32| *x < 40), max = 100) { inc >> inc }
    };
    for _ in 0..200 {
        let (_, report) = p.run(1).reported().await;
        let trace = serde_json::to_value(report.chrome_trace()).unwrap();
        assert_lanes_nest(&trace);
        let events = trace["traceEvents"].as_array().unwrap();
        let span = |e: &Value| {
            let ts = e["ts"].as_u64().unwrap();
            (ts, ts + e["dur"].as_u64().unwrap())
        };
        let by_id: HashMap<u64, (u64, u64)> = events
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| (e["args"]["id"].as_u64().unwrap(), span(e)))
            .collect();
        for e in events.iter().filter(|e| e["ph"] == "X") {
            if let Some(parent) = e["args"]["parent"].as_u64() {
                let ((cs, ce), (ps, pe)) = (span(e), by_id[&parent]);
                assert!(
                    ps <= cs && ce <= pe,
                    "child {cs}..{ce} outside parent {ps}..{pe}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Waiting for limits

/// A step that waits `self.0` ms twice for a limit, as a rate limiter does (sleeping, then telling
/// the run's monitor), then yields its input.
struct HeldBack(u64);

impl plan_runtime::Describe for HeldBack {}

impl Plan<u32> for HeldBack {
    type Out = u32;

    async fn call(&self, input: u32, cx: plan_runtime::Cx<'_, ()>) -> Result<u32, PlanError> {
        for on in ["rate limit", "concurrency limit"] {
            pause(self.0).await;
            if let Some(monitor) = cx.monitor() {
                monitor.waited(on, ms(self.0));
            }
        }
        Ok(input)
    }
}

/// `Monitor::waited` adds up on the instance being polled: in its record, in its JSON
/// (`waited_us`, left out when zero) and at the end of its timeline line.
#[tokio::test(start_paused = true)]
async fn waits_for_limits_add_up_on_the_waiting_step() {
    let p = plan! { #![name = "demo"] a >> #[name = "held"] (HeldBack(20)) >> inc };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), 3);
    assert_node(&report, "held", 10, 50, Outcome::Ok);
    assert_eq!(node(&report, "held").waited, ms(40));
    for other in ["demo", "a", "inc"] {
        assert_eq!(node(&report, other).waited, Duration::ZERO);
    }

    let json = serde_json::to_value(&report).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    for n in nodes {
        let expected = if n["name"] == "held" {
            json!(40_000)
        } else {
            Value::Null
        };
        assert_eq!(n.get("waited_us").cloned().unwrap_or(Value::Null), expected);
    }

    assert_eq!(
        report.timeline().width(10).to_string(),
        "\
demo    0 ms ┃██████████┃ 50 ms  ok
  a     0 ms ┃██        ┃ 10 ms  ok
  held 10 ms ┃  ████████┃ 40 ms  ok, waited 40 ms
  inc  50 ms ┃         █┃  0 ms  ok
"
    );
}
