//! `each(POLICY, limit = k, timeout = d) { step }`: one step fanned out over any
//! `IntoIterator`, results in input order, proven by observation on tokio's paused clock.

use std::collections::{BTreeSet, VecDeque};

mod common;

use common::*;

use plan_runtime::NodeKind;
use plan_runtime::prelude::*;
use tokio::time::Instant;

define_fail!("item");

/// One item of work: sleeps `ms`, then yields `id * 10` (or fails) with a `score`.
#[derive(Clone, Copy, Debug)]
struct Job {
    id: u32,
    ms: u64,
    fail: bool,
    score: f64,
}

fn job(id: u32, ms: u64) -> Job {
    Job {
        id,
        ms,
        fail: false,
        score: 0.0,
    }
}

fn bad(id: u32, ms: u64) -> Job {
    Job {
        fail: true,
        ..job(id, ms)
    }
}

fn rated(id: u32, ms: u64, score: f64) -> Job {
    Job {
        score,
        ..job(id, ms)
    }
}

/// The step run on every job.
fn work(probe: &Probe) -> impl Fn(Job) -> BoxFut<Result<u32, Fail>> + Send + Sync + 'static {
    let probe = probe.clone();
    move |j: Job| {
        let probe = probe.clone();
        Box::pin(async move {
            let guard = Guard::enter(&probe, j.id);
            tokio::time::sleep(ms(j.ms)).await;
            guard.finish();
            if j.fail {
                Err(Fail(j.id))
            } else {
                Ok(j.id * 10)
            }
        })
    }
}

/// Like [`work`], yielding `(id, score)` for the ranking policies.
fn rate(probe: &Probe) -> impl Fn(Job) -> BoxFut<Result<(u32, f64), Fail>> + Send + Sync + 'static {
    let probe = probe.clone();
    move |j: Job| {
        let probe = probe.clone();
        Box::pin(async move {
            let guard = Guard::enter(&probe, j.id);
            tokio::time::sleep(ms(j.ms)).await;
            guard.finish();
            if j.fail {
                Err(Fail(j.id))
            } else {
                Ok((j.id, j.score))
            }
        })
    }
}

fn assert_item_failure(err: &PlanError, id: u32) {
    assert!(
        matches!(err, PlanError::Step { .. }),
        "expected a step error, got {err}"
    );
    assert_eq!(err.step_error::<Fail>(), Some(&Fail(id)), "{err}");
    assert_eq!(err.node().path, "0/0", "{err}");
    assert_eq!(err.node().kind, NodeKind::Step, "{err}");
}

fn assert_group_timeout(err: &PlanError, after: Duration) {
    match err {
        PlanError::Timeout {
            node,
            after: got,
            group: None,
            votes: None,
        } => {
            assert_eq!(*got, after);
            assert_eq!(node.kind, NodeKind::Each);
            assert_eq!(node.path, "0");
        }
        other => panic!("expected the group's Timeout, got {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// all

#[tokio::test(start_paused = true)]
async fn all_results_in_input_order_even_when_completion_order_differs() {
    let p = Probe::default();
    let plan = plan! { each(all) { work(&p) } };
    let jobs = vec![job(0, 50), job(1, 40), job(2, 30), job(3, 20), job(4, 10)];
    let t0 = Instant::now();
    let out = plan.run(jobs).await.unwrap();
    assert_eq!(out, vec![0, 10, 20, 30, 40]);
    assert_eq!(
        p.finished(),
        vec![4, 3, 2, 1, 0],
        "completion order was reversed"
    );
    assert_eq!(t0.elapsed(), ms(50), "items run concurrently");
    assert_eq!(p.max_running(), 5);
}

#[tokio::test(start_paused = true)]
async fn all_over_any_into_iterator() {
    // One plan, generic over its input: any `IntoIterator<Item = u32>` will do.
    let plan = plan! {
        each(all) {
            (|x: u32| async move {
                tokio::time::sleep(ms(u64::from(100 - x))).await;
                x * 2
            })
        }
    };
    assert_eq!(plan.run(vec![3, 1, 2]).await.unwrap(), vec![6, 2, 4]);
    assert_eq!(plan.run([5, 4]).await.unwrap(), vec![10, 8]);
    assert_eq!(plan.run(0..4).await.unwrap(), vec![0, 2, 4, 6]);
    assert_eq!(plan.run(7..=8).await.unwrap(), vec![14, 16]);
    assert_eq!(plan.run(VecDeque::from([9, 1])).await.unwrap(), vec![18, 2]);
    assert_eq!(
        plan.run(BTreeSet::from([30, 10, 20])).await.unwrap(),
        vec![20, 40, 60]
    );
    assert_eq!(plan.run(Some(21)).await.unwrap(), vec![42]);
    assert_eq!(plan.run(None::<u32>).await.unwrap(), Vec::<u32>::new());
    assert_eq!(
        plan.run((1..=3).rev().map(|x| x * 10)).await.unwrap(),
        vec![60, 40, 20]
    );

    let t0 = Instant::now();
    plan.run(vec![90, 50, 99]).await.unwrap();
    assert_eq!(t0.elapsed(), ms(50));
}

#[tokio::test(start_paused = true)]
async fn all_fails_fast_and_drops_the_other_items() {
    let p = Probe::default();
    let plan = plan! { each(all) { work(&p) } };
    let t0 = Instant::now();
    let err = plan
        .run(vec![job(0, 100), job(1, 300), bad(2, 20), job(3, 10)])
        .await
        .unwrap_err();
    assert_eq!(p.cancelled(), vec![0, 1]);
    assert_eq!(p.running(), 0);
    assert_eq!(t0.elapsed(), ms(20));
    assert_item_failure(&err, 2);
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), vec![3, 2]);
}

#[tokio::test(start_paused = true)]
async fn each_sits_in_a_chain_and_its_body_can_be_a_chain() {
    let p = Probe::default();
    let plan = plan! {
        (|n: u32| (0..n).map(|i| job(i, 10 * u64::from(n - i))).collect::<Vec<_>>())
        >> each(all) { work(&p) >> (|x: u32| async move { x + 1 }) }
        >> (|v: Vec<u32>| v.into_iter().sum::<u32>())
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(4).await.unwrap(), 1 + 11 + 21 + 31);
    assert_eq!(t0.elapsed(), ms(40));

    let p = Probe::default();
    let plan = plan! {
        (|v: Vec<Job>| v) >> each(all) { work(&p) >> (|x: u32| x) }
    };
    let err = plan.run(vec![job(0, 5), bad(1, 10)]).await.unwrap_err();
    assert_eq!(err.node().path, "1/0", "{err}");
    assert_eq!(err.step_error::<Fail>(), Some(&Fail(1)));
}

#[tokio::test(start_paused = true)]
async fn all_and_settled_over_nothing_give_nothing() {
    let p = Probe::default();
    let all = plan! { each(all) { work(&p) } };
    let settled = plan! { each(settled) { work(&p) } };
    let t0 = Instant::now();
    assert_eq!(all.run(Vec::<Job>::new()).await.unwrap(), Vec::<u32>::new());
    assert!(settled.run(Vec::<Job>::new()).await.unwrap().is_empty());
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn single_winner_policies_over_nothing_fail() {
    let p = Probe::default();
    let first = plan! { each(first) { work(&p) } };
    let best = plan! { each(best(by = score)) { rate(&p) } };
    let n_best = plan! { each(n_best(2, by = score)) { rate(&p) } };
    for err in [
        first.run(Vec::new()).await.unwrap_err(),
        best.run(Vec::new()).await.unwrap_err(),
        n_best.run(Vec::new()).await.unwrap_err(),
    ] {
        match err {
            PlanError::AllFailed { node, errors } => {
                assert_eq!(node.kind, NodeKind::Each);
                assert!(errors.is_empty());
            }
            other => panic!("expected AllFailed, got {other}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// settled

#[tokio::test(start_paused = true)]
async fn settled_keeps_every_outcome_in_input_order() {
    let p = Probe::default();
    let plan = plan! { each(settled) { work(&p) } };
    let t0 = Instant::now();
    let out = plan
        .run(vec![job(0, 40), bad(1, 10), job(2, 30), bad(3, 20)])
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), ms(40));
    assert_eq!(out.len(), 4);
    assert_eq!(out[0].as_ref().unwrap(), &0);
    assert_item_failure(out[1].as_ref().unwrap_err(), 1);
    assert_eq!(out[2].as_ref().unwrap(), &20);
    assert_item_failure(out[3].as_ref().unwrap_err(), 3);
    assert_eq!(p.cancelled(), Vec::<u32>::new());
    assert_eq!(p.finished(), vec![1, 3, 2, 0]);
}

#[tokio::test(start_paused = true)]
async fn settled_timeout_marks_unfinished_and_unstarted_items() {
    let p = Probe::default();
    let line = line!() + 1;
    let plan = plan! { each(settled, limit = 2, timeout = 150ms) { work(&p) } };
    // t=0: 0,1 start; t=50: 0 fails, 2 starts; t=100: 1 done, 3 starts; t=150: deadline.
    let t0 = Instant::now();
    let out = plan
        .run(vec![
            bad(0, 50),
            job(1, 100),
            job(2, 500),
            job(3, 500),
            job(4, 10),
        ])
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), ms(150));
    assert_eq!(out.len(), 5, "every item is reported, started or not");
    assert_item_failure(out[0].as_ref().unwrap_err(), 0);
    assert_eq!(out[1].as_ref().unwrap(), &10);
    // Every item cut off, started or not, names the body that did not finish on it, and the
    // group whose deadline it was.
    for cut in &out[2..] {
        match cut.as_ref().unwrap_err() {
            PlanError::Timeout {
                node,
                after,
                group: Some(group),
                votes: None,
            } => {
                assert_eq!(*after, ms(150));
                assert_eq!(
                    (node.kind, node.name, &*node.path),
                    (NodeKind::Step, "work(&p)", "0/0")
                );
                assert_eq!((group.kind, &*group.path), (NodeKind::Each, "0"));
            }
            other => panic!("expected an item cut off by the deadline, got {other}"),
        }
    }
    assert_eq!(
        out[2].as_ref().unwrap_err().to_string(),
        format!(
            "`work(&p)` (step at 0/0, {file}:{line}:68) timed out: cut off by the 150ms deadline \
             of `each(settled)` (each at 0, {file}:{line}:24)",
            file = file!()
        )
    );
    assert_eq!(p.started(), vec![0, 1, 2, 3]);
    assert_eq!(p.cancelled(), vec![2, 3]);
}

#[tokio::test(start_paused = true)]
async fn settled_isolates_a_panicking_item() {
    let plan = plan! {
        each(settled) {
            (|x: u32| async move {
                tokio::time::sleep(ms(u64::from(x))).await;
                if x == 20 {
                    panic!("item {x} exploded");
                }
                x
            })
        }
    };
    let t0 = Instant::now();
    let out = plan.run(vec![30, 20, 10]).await.unwrap();
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(*out[0].as_ref().unwrap(), 30);
    match out[1].as_ref().unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.path, "0/0");
            assert_eq!(message, "item 20 exploded");
        }
        other => panic!("expected Panicked, got {other}"),
    }
    assert_eq!(*out[2].as_ref().unwrap(), 10);
}

// ---------------------------------------------------------------------------------------------
// first and first_completed

#[tokio::test(start_paused = true)]
async fn first_takes_the_earliest_success_and_drops_the_rest() {
    let p = Probe::default();
    let plan = plan! { each(first) { work(&p) } };
    let t0 = Instant::now();
    let out = plan
        .run(vec![job(0, 300), bad(1, 10), job(2, 60), job(3, 90)])
        .await
        .unwrap();
    assert_eq!(p.cancelled(), vec![0, 3]);
    assert_eq!(out, 20);
    assert_eq!(t0.elapsed(), ms(60));
}

#[tokio::test(start_paused = true)]
async fn first_all_failing_reports_every_error_in_input_order() {
    let p = Probe::default();
    let plan = plan! { each(first) { work(&p) } };
    let t0 = Instant::now();
    let err = plan
        .run(vec![bad(0, 30), bad(1, 10), bad(2, 20)])
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), ms(30));
    match err {
        PlanError::AllFailed { node, errors } => {
            assert_eq!(node.kind, NodeKind::Each);
            assert_eq!(node.path, "0");
            assert_eq!(errors.len(), 3);
            for (i, e) in errors.iter().enumerate() {
                assert_item_failure(e, i as u32);
            }
        }
        other => panic!("expected AllFailed, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn first_timeout_fails_only_if_nothing_succeeded() {
    let p = Probe::default();
    let plan = plan! { each(first, timeout = 100ms) { work(&p) } };
    let t0 = Instant::now();
    let err = plan.run(vec![bad(0, 10), job(1, 200)]).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(100));
    assert_group_timeout(&err, ms(100));
    assert_eq!(p.cancelled(), vec![1]);

    let t0 = Instant::now();
    assert_eq!(plan.run(vec![bad(0, 10), job(1, 99)]).await.unwrap(), 10);
    assert_eq!(t0.elapsed(), ms(99));
}

#[tokio::test(start_paused = true)]
async fn first_completed_an_error_can_win() {
    let p = Probe::default();
    let plan = plan! { each(first_completed) { work(&p) } };
    let t0 = Instant::now();
    let err = plan
        .run(vec![job(0, 50), bad(1, 20), job(2, 30)])
        .await
        .unwrap_err();
    assert_eq!(p.cancelled(), vec![0, 2]);
    assert_eq!(t0.elapsed(), ms(20));
    assert_item_failure(&err, 1);

    let p = Probe::default();
    let plan = plan! { each(first_completed) { work(&p) } };
    assert_eq!(plan.run(vec![bad(0, 50), job(1, 20)]).await.unwrap(), 10);
    assert_eq!(p.cancelled(), vec![0]);
}

// ---------------------------------------------------------------------------------------------
// n_best and best

#[tokio::test(start_paused = true)]
async fn n_best_ranks_best_first_ties_by_input_order_nan_last_at_most_n() {
    let p = Probe::default();
    let plan = plan! { each(n_best(4, by = score)) { rate(&p) } };
    let jobs = vec![
        rated(0, 10, f64::NAN),
        rated(1, 50, 0.6),
        bad(2, 5),
        rated(3, 20, 0.6),
        rated(4, 30, 0.1),
        rated(5, 40, 0.9),
    ];
    let t0 = Instant::now();
    let out = plan.run(jobs.clone()).await.unwrap();
    assert_eq!(t0.elapsed(), ms(50));
    assert_eq!(ids(&out), vec![5, 1, 3, 4]);

    let plan = plan! { each(n_best(10, by = score)) { rate(&p) } };
    let out = plan.run(jobs).await.unwrap();
    assert_eq!(ids(&out), vec![5, 1, 3, 4, 0]);
    assert!(out[4].1.is_nan());
}

#[tokio::test(start_paused = true)]
async fn n_best_timeout_ranks_whatever_finished() {
    let p = Probe::default();
    let plan = plan! { each(n_best(3, by = score), timeout = 100ms) { rate(&p) } };
    let t0 = Instant::now();
    let out = plan
        .run(vec![
            rated(0, 500, 9.0),
            rated(1, 30, 0.2),
            rated(2, 60, 0.3),
            bad(3, 10),
        ])
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(ids(&out), vec![2, 1]);
    assert_eq!(p.cancelled(), vec![0]);

    let t0 = Instant::now();
    let err = plan.run(vec![rated(0, 500, 9.0)]).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(100));
    assert_group_timeout(&err, ms(100));
}

#[tokio::test(start_paused = true)]
async fn best_returns_the_single_best_and_fails_only_if_none_succeeded() {
    let p = Probe::default();
    let plan = plan! { each(best(by = score)) { rate(&p) } };
    let out = plan
        .run(vec![
            rated(0, 10, f64::NAN),
            rated(1, 30, 0.5),
            rated(2, 20, 0.5),
            bad(3, 5),
        ])
        .await
        .unwrap();
    assert_eq!(out.0, 1, "ties go to the earlier item, NaN never wins");

    match plan.run(vec![bad(0, 10), bad(1, 5)]).await.unwrap_err() {
        PlanError::AllFailed { errors, .. } => {
            assert_eq!(errors.len(), 2);
            assert_item_failure(&errors[0], 0);
            assert_item_failure(&errors[1], 1);
        }
        other => panic!("expected AllFailed, got {other}"),
    }

    let plan = plan! { each(best(by = score), timeout = 50ms) { rate(&p) } };
    let t0 = Instant::now();
    let out = plan
        .run(vec![rated(0, 80, 1.0), rated(1, 40, 0.0)])
        .await
        .unwrap();
    assert_eq!((out.0, t0.elapsed()), (1, ms(50)));
}

// ---------------------------------------------------------------------------------------------
// limit and timeout

#[tokio::test(start_paused = true)]
async fn limit_caps_concurrency_and_time_is_exact() {
    let p = Probe::default();
    let plan = plan! { each(all, limit = 3) { work(&p) } };
    let jobs: Vec<Job> = (0..10).map(|i| job(i, 100)).collect();
    let t0 = Instant::now();
    let out = plan.run(jobs).await.unwrap();
    assert_eq!(out, (0..10).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(p.max_running(), 3);
    assert_eq!(
        t0.elapsed(),
        ms(400),
        "10 x 100 ms with limit 3 is 4 rounds"
    );
    assert_eq!(
        p.started(),
        (0..10).collect::<Vec<_>>(),
        "items start in input order"
    );
}

#[tokio::test(start_paused = true)]
async fn limit_from_a_variable_refills_slots_as_they_free() {
    let p = Probe::default();
    let k = 2;
    let plan = plan! { each(settled, limit = k) { work(&p) } };
    // t=0: 0,1 start; t=30: 2; t=60: 3; t=90: 4, which ends at 190.
    let t0 = Instant::now();
    let out = plan
        .run(vec![
            job(0, 100),
            job(1, 30),
            bad(2, 30),
            job(3, 30),
            job(4, 100),
        ])
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), ms(190));
    assert_eq!(p.max_running(), 2);
    assert_eq!(p.finished(), vec![1, 2, 3, 0, 4]);
    assert_eq!(out.iter().filter(|o| o.is_ok()).count(), 4);
    assert_item_failure(out[2].as_ref().unwrap_err(), 2);
}

#[tokio::test(start_paused = true)]
async fn limit_one_with_first_stops_starting_items_after_a_success() {
    let p = Probe::default();
    let plan = plan! { each(first, limit = 1) { work(&p) } };
    let t0 = Instant::now();
    let out = plan
        .run(vec![bad(0, 10), job(1, 20), job(2, 30), job(3, 40)])
        .await
        .unwrap();
    assert_eq!(out, 10);
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(p.started(), vec![0, 1]);
}

#[tokio::test(start_paused = true)]
async fn all_group_timeout_fails_with_timeout_and_drops_the_rest() {
    let p = Probe::default();
    let deadline = ms(120);
    let plan = plan! { each(all, timeout = deadline) { work(&p) } };
    let t0 = Instant::now();
    let err = plan
        .run(vec![job(0, 100), job(1, 200), job(2, 300)])
        .await
        .unwrap_err();
    assert_eq!(p.cancelled(), vec![1, 2]);
    assert_eq!(t0.elapsed(), ms(120));
    assert_group_timeout(&err, ms(120));
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), vec![0]);
}

// ---------------------------------------------------------------------------------------------
// scale

#[tokio::test(start_paused = true)]
async fn ten_thousand_items_without_limit() {
    let p = Probe::default();
    let plan = plan! { each(all) { work(&p) } };
    let jobs: Vec<Job> = (0..10_000).map(|i| job(i, 10)).collect();
    let t0 = Instant::now();
    let out = plan.run(jobs).await.unwrap();
    assert_eq!(t0.elapsed(), ms(10));
    assert_eq!(out.len(), 10_000);
    assert!(out.iter().enumerate().all(|(i, &v)| v == i as u32 * 10));
    assert_eq!(p.max_running(), 10_000);
    assert_eq!(p.running(), 0);
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_items_with_limit_64() {
    let p = Probe::default();
    let plan = plan! { each(all, limit = 64) { work(&p) } };
    let jobs: Vec<Job> = (0..10_000).map(|i| job(i, 10)).collect();
    let t0 = Instant::now();
    let out = plan.run(jobs).await.unwrap();
    // ceil(10_000 / 64) = 157 rounds of 10 ms.
    assert_eq!(t0.elapsed(), ms(1_570));
    assert_eq!(out.len(), 10_000);
    assert!(out.iter().enumerate().all(|(i, &v)| v == i as u32 * 10));
    assert_eq!(p.max_running(), 64);
    assert_eq!(p.started().len(), 10_000);
}

async fn fail_after_a_while(item: u64) -> Result<u64, String> {
    tokio::time::sleep(ms(30)).await;
    Err(format!("item {item} failed"))
}

fn fails_on_three(item: u32) -> Result<u32, String> {
    if item == 3 {
        Err("three".to_owned())
    } else {
        Ok(item)
    }
}

/// A deadline over an endless input stops at the deadline: it does not try to count (or
/// start) what is left.
#[tokio::test(start_paused = true)]
async fn a_deadline_over_an_endless_input_returns_at_the_deadline() {
    let p = plan! { each(first, limit = 2, timeout = 50ms) { fail_after_a_while } };
    let started = Instant::now();
    let err = p.run(0u64..).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(started.elapsed(), ms(50));
}

/// An endless input's size hint does not size the result buffer.
#[tokio::test]
async fn an_endless_input_fails_fast_without_preallocating() {
    let p = plan! { each(all, limit = 2) { fails_on_three } };
    let err = p.run(0u32..).await.unwrap_err();
    assert!(err.step_error::<std::io::Error>().is_none());
    assert!(err.to_string().contains("three"), "{err}");
}

#[tokio::test]
async fn first_completed_over_nothing_is_all_failed_not_a_timeout() {
    let p = plan! { each(first_completed) { (|x: u32| x) } };
    match p.run(Vec::<u32>::new()).await.unwrap_err() {
        PlanError::AllFailed { errors, .. } => assert!(errors.is_empty()),
        other => panic!("expected AllFailed, got {other}"),
    }
}

fn exploding_score(out: &(u32, f64)) -> f64 {
    assert!(out.0 != 1, "score exploded on item {}", out.0);
    out.1
}

/// A score is the group's own code: its panic names the `each`, not the plan around it.
#[tokio::test(start_paused = true)]
async fn a_panicking_score_is_blamed_on_its_each() {
    let p = Probe::default();
    let line = line!() + 1;
    let plan = plan! { each(n_best(1, by = exploding_score), limit = 2) { rate(&p) } };
    let err = plan
        .run(vec![
            rated(0, 10, 0.5),
            rated(1, 20, 0.9),
            rated(2, 900, 0.1),
        ])
        .await
        .unwrap_err();
    match &err {
        PlanError::Panicked { node, message } => {
            assert_eq!((node.kind, &*node.path), (NodeKind::Each, "0"), "{err}");
            assert_eq!(
                node.label().to_string(),
                format!("each(n_best(1, by = exploding_score)) at each.rs:{line}")
            );
            assert_eq!(message, "score exploded on item 1");
        }
        other => panic!("expected Panicked, got {other}"),
    }
    // The panic stopped the group: the item still running was dropped.
    assert_eq!(p.cancelled(), vec![2]);
}
