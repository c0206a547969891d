//! `par(quorum(k, by = key))` and `each(quorum(..))`: agreement, the early exits (a quorum
//! reached, a quorum out of reach), the drops and the deadline, proven by observation on
//! tokio's paused clock. Every branch records when it starts, whether it ran to the end of its
//! sleep, and whether it was dropped before that (its drop guard).

mod common;

use common::*;

use plan_runtime::prelude::*;
use plan_runtime::{Ballot, NodeKind, PolicyKind};
use tokio::time::Instant;

define_fail!("branch");

fn says<T>(
    probe: &Probe,
    id: u32,
    sleep_ms: u64,
    value: T,
) -> impl Fn(u32) -> BoxFut<Result<T, Fail>> + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
{
    branch(probe, id, sleep_ms, Ok(value))
}

fn fails<T>(
    probe: &Probe,
    id: u32,
    sleep_ms: u64,
) -> impl Fn(u32) -> BoxFut<Result<T, Fail>> + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
{
    branch(probe, id, sleep_ms, Err(Fail(id)))
}

/// An answer with the reasoning that led to it: answers agree on `answer` alone.
#[derive(Clone, Debug, PartialEq)]
struct Reply {
    answer: &'static str,
    reasoning: &'static str,
}

fn reply(answer: &'static str, reasoning: &'static str) -> Reply {
    Reply { answer, reasoning }
}

fn answer(reply: &Reply) -> String {
    reply.answer.to_lowercase()
}

/// What each vote of `err` said, as `(index, said or "failed")`.
fn ballots(err: &PlanError) -> Vec<(usize, String)> {
    let votes = err.votes().unwrap_or_else(|| panic!("no votes in {err}"));
    votes
        .cast
        .iter()
        .map(|vote| {
            let said = match &vote.ballot {
                Ballot::Said(said) => said.clone(),
                Ballot::Failed(_) => "failed".to_owned(),
            };
            (vote.index, said)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn quorum_returns_once_k_branches_agree_and_drops_the_rest_first() {
    let p = Probe::default();
    let plan = plan! { par(quorum(2)) { says(&p, 0, 10, 7u32), says(&p, 1, 30, 7u32), says(&p, 2, 300, 7u32) } };
    let t0 = Instant::now();
    let agreed = plan.run(0).await.unwrap();
    assert_eq!(
        t0.elapsed(),
        ms(30),
        "the second agreeing vote ends the group"
    );
    assert_eq!(
        agreed,
        Quorum {
            output: 7,
            voters: vec![0, 1]
        }
    );
    assert_eq!(p.cancelled(), vec![2], "the third branch is dropped");
    assert_eq!(
        p.running(),
        0,
        "nothing of the group is alive when it returns"
    );
}

#[tokio::test(start_paused = true)]
async fn quorum_counts_only_agreeing_successes() {
    let p = Probe::default();
    let plan = plan! {
        par(quorum(2)) { says(&p, 0, 10, 1u32), fails(&p, 1, 20), says(&p, 2, 30, 2u32), says(&p, 3, 40, 1u32), says(&p, 4, 90, 1u32) }
    };
    let t0 = Instant::now();
    let agreed = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(40));
    assert_eq!(
        agreed,
        Quorum {
            output: 1,
            voters: vec![0, 3]
        }
    );
    assert_eq!(p.cancelled(), vec![4]);
}

#[tokio::test(start_paused = true)]
async fn quorum_by_key_agrees_on_the_key_and_keeps_the_first_voters_output() {
    let p = Probe::default();
    let plan = plan! {
        par(quorum(2, by = answer)) {
            says(&p, 0, 30, reply("Paris", "the capital")),
            says(&p, 1, 10, reply("Lyon", "the food")),
            says(&p, 2, 20, reply("paris", "the river")),
        }
    };
    let t0 = Instant::now();
    let agreed = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(agreed.voters, [0, 2]);
    // Branch 0 finished after branch 2, but it is first in branch order.
    assert_eq!(agreed.output, reply("Paris", "the capital"));
}

#[tokio::test(start_paused = true)]
async fn quorum_fails_as_soon_as_agreement_is_out_of_reach_and_lists_the_votes() {
    let p = Probe::default();
    let plan = plan! {
        par(quorum(3)) { says(&p, 0, 10, 1u32), says(&p, 1, 20, 2u32), fails(&p, 2, 30), says(&p, 3, 300, 1u32) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    // At 30 ms one answer has one vote and one branch is left: three can no longer agree.
    assert_eq!(t0.elapsed(), ms(30), "not after the slowest branch");
    assert_eq!(p.cancelled(), vec![3]);
    assert_eq!(err.kind(), "no_quorum");
    assert_eq!(err.node().kind, NodeKind::Par);
    assert_eq!(
        ballots(&err),
        [(0, "1".into()), (1, "2".into()), (2, "failed".into())]
    );
    let line = err.to_string();
    assert!(line.starts_with("`par(quorum(3))` (par at 0, "), "{line}");
    assert!(
        line.ends_with(
            " reached no quorum of 3: `says(&p, 0, 10, 1u32)` #0 said 1, `says(&p, 1, 20, 2u32)` #1 said 2, `fails(&p, 2, 30)` #2 failed, 1 unfinished"
        ),
        "{line}"
    );
    // `{:?}` adds the failed branches' errors, numbered by branch.
    let report = format!("{err:?}");
    assert!(
        report.contains("Branch errors:\n    2: `fails(&p, 2, 30)` (step at 0/2, "),
        "{report}"
    );
    assert!(report.ends_with("failed: branch 2 failed"), "{report}");
}

#[tokio::test(start_paused = true)]
async fn quorum_of_more_than_the_branches_fails_before_any_starts() {
    let p = Probe::default();
    let k = 4;
    let plan = plan! { par(quorum(k)) { says(&p, 0, 10, 1u32), says(&p, 1, 10, 1u32), says(&p, 2, 10, 1u32) } };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(0));
    assert_eq!(p.started(), Vec::<u32>::new());
    assert!(
        err.to_string()
            .ends_with("reached no quorum of 4: it has 3 branches"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_branch_is_a_failed_vote() {
    async fn boom(_: u32) -> u32 {
        tokio::time::sleep(ms(5)).await;
        panic!("boom")
    }
    let p = Probe::default();
    let plan = plan! { par(quorum(2)) { boom, says(&p, 1, 10, 1u32), says(&p, 2, 20, 1u32) } };
    let agreed = plan.run(0).await.unwrap();
    assert_eq!(agreed.voters, [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn at_the_group_deadline_quorum_times_out_with_the_votes_seen() {
    let p = Probe::default();
    let plan = plan! {
        par(quorum(2), timeout = 50ms) { says(&p, 0, 10, 1u32), says(&p, 1, 20, 2u32), says(&p, 2, 300, 3u32) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(50));
    assert!(err.is_timeout(), "{err}");
    assert_eq!(p.cancelled(), vec![2]);
    assert_eq!(ballots(&err), [(0, "1".into()), (1, "2".into())]);
    assert!(
        err.to_string()
            .ends_with("timed out after 50ms before a quorum of 2: `says(&p, 0, 10, 1u32)` #0 said 1, `says(&p, 1, 20, 2u32)` #1 said 2, 1 unfinished"),
        "{err}"
    );
    let PlanError::Timeout {
        node, group: None, ..
    } = &err
    else {
        panic!("expected the group's own timeout, got {err}");
    };
    assert_eq!(node.kind, NodeKind::Par);
}

#[tokio::test(start_paused = true)]
async fn each_quorum_votes_over_items_and_drops_the_rest() {
    let p = Probe::default();
    let parity = {
        let p = p.clone();
        move |n: u32| {
            let p = p.clone();
            async move {
                let guard = Guard::enter(&p, n);
                tokio::time::sleep(ms(u64::from(10 * n))).await;
                guard.finish();
                n % 2
            }
        }
    };
    let plan = plan! { each(quorum(2)) { (parity.clone()) } };
    let t0 = Instant::now();
    let agreed = plan.run(vec![1, 2, 3, 5]).await.unwrap();
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(
        agreed,
        Quorum {
            output: 1,
            voters: vec![0, 2]
        }
    );
    assert_eq!(p.cancelled(), vec![5]);
}

#[tokio::test(start_paused = true)]
async fn each_quorum_fails_early_once_its_items_are_counted() {
    let p = Probe::default();
    let item = {
        let p = p.clone();
        move |n: u32| {
            let p = p.clone();
            async move {
                let guard = Guard::enter(&p, n);
                tokio::time::sleep(ms(u64::from(10 * n))).await;
                guard.finish();
                if n < 3 { Err(Fail(n)) } else { Ok(n) }
            }
        }
    };
    let plan = plan! { each(quorum(2)) { (item.clone()) } };

    // A `Vec` says how many items it has: after the first failure one item is left, and two
    // must agree.
    let t0 = Instant::now();
    let err = plan.run(vec![1, 9]).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(10));
    assert_eq!(ballots(&err), [(0, "failed".into())]);
    assert!(
        err.to_string().ends_with("#0 failed, 1 unfinished"),
        "{err}"
    );

    // A filter does not: its items are counted when it runs out.
    let t0 = Instant::now();
    let err = plan
        .run(vec![1, 9].into_iter().filter(|_| true))
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), ms(10));
    assert_eq!(err.kind(), "no_quorum");
    assert_eq!(p.cancelled(), vec![9, 9]);
}

#[tokio::test(start_paused = true)]
async fn the_run_report_and_the_graph_show_the_votes() {
    let p = Probe::default();
    let plan = plan! {
        par(quorum(2, by = answer)) {
            says(&p, 0, 10, reply("Paris", "")),
            says(&p, 1, 20, reply("Lyon", "")),
            fails(&p, 2, 25),
            says(&p, 3, 30, reply("paris", "")),
        }
    };
    let (out, report) = plan.run(0).reported().await;
    assert_eq!(out.unwrap().voters, [0, 3]);
    let group = report.find("par").unwrap();
    assert_eq!(
        group.notes,
        [(
            "votes",
            "\"paris\" by #0 #3 (agreed), \"lyon\" by #1, failed #2".to_owned()
        )]
    );
    let timeline = report.timeline().to_string();
    assert!(
        timeline.contains("ok, votes \"paris\" by #0 #3 (agreed), \"lyon\" by #1, failed #2"),
        "{timeline}"
    );

    let graph = plan.graph();
    let par = graph
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Par)
        .unwrap();
    assert_eq!(par.policy, Some("quorum(2, by = answer)"));
    assert_eq!(par.parallel.unwrap().policy, PolicyKind::Quorum(2));
    assert!(
        graph.to_mermaid().contains("par (quorum(2, by = answer))"),
        "{}",
        graph.to_mermaid()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_quorum_notes_its_votes_too() {
    let p = Probe::default();
    let plan = plan! { par(quorum(2)) { says(&p, 0, 10, 1u8), says(&p, 1, 20, 2u8) } };
    let (out, report) = plan.run(0).reported().await;
    assert_eq!(out.unwrap_err().kind(), "no_quorum");
    let group = report.find("par").unwrap();
    assert_eq!(group.notes, [("votes", "1 by #0, 2 by #1".to_owned())]);
}
