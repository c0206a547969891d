//! `par(POLICY, options) { .. }`: every policy and option, proven by observation on
//! tokio's paused clock. Every branch records when it starts, whether it ran to the end of its
//! sleep (the "after-sleep flag"), and whether it was dropped before that (its drop guard).

mod common;

use common::*;

use plan_runtime::NodeKind;
use plan_runtime::prelude::*;
use tokio::time::Instant;

define_fail!("branch");

fn ok<T>(
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

/// A success `(id, score)` for the ranking policies.
fn scored(
    probe: &Probe,
    id: u32,
    sleep_ms: u64,
    score: f64,
) -> impl Fn(u32) -> BoxFut<Result<(u32, f64), Fail>> + Send + Sync + 'static {
    branch(probe, id, sleep_ms, Ok((id, score)))
}

/// Branch `id`: sleeps `sleep_ms`, then panics.
fn panics(probe: &Probe, id: u32, sleep_ms: u64) -> impl Fn(u32) -> BoxFut<u32> + Send + Sync {
    let probe = probe.clone();
    move |_input: u32| {
        let probe = probe.clone();
        Box::pin(async move {
            let guard = Guard::enter(&probe, id);
            tokio::time::sleep(ms(sleep_ms)).await;
            guard.finish();
            panic!("branch {id} exploded");
        })
    }
}

fn assert_step_failure(err: &PlanError, id: u32, path: &str) {
    assert!(
        matches!(err, PlanError::Step { .. }),
        "expected a step error, got {err}"
    );
    assert_eq!(err.step_error::<Fail>(), Some(&Fail(id)), "{err}");
    assert_eq!(err.node().path, path, "{err}");
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
            assert_eq!(node.kind, NodeKind::Par);
            assert_eq!(node.path, "0");
        }
        other => panic!("expected the group's Timeout, got {other}"),
    }
}

/// A branch that the group's deadline cut off: its error names the branch (`kind`, `name` and
/// `path`) and, as the one whose deadline it was, the group at `0`.
fn assert_cut_off(err: &PlanError, after: Duration, kind: NodeKind, name: &str, path: &str) {
    match err {
        PlanError::Timeout {
            node,
            after: got,
            group: Some(group),
            votes: None,
        } => {
            assert_eq!(*got, after, "{err}");
            assert_eq!(
                (node.kind, node.name, &*node.path),
                (kind, name, path),
                "{err}"
            );
            assert_eq!((group.kind, &*group.path), (NodeKind::Par, "0"), "{err}");
        }
        other => panic!("expected a branch cut off by the group's deadline, got {other}"),
    }
    assert!(err.is_timeout());
}

// ---------------------------------------------------------------------------------------------
// all

#[tokio::test(start_paused = true)]
async fn all_runs_branches_concurrently_and_keeps_branch_order_and_types() {
    let p = Probe::default();
    let plan = plan! {
        par(all) { ok(&p, 0, 100, 1u32), ok(&p, 1, 100, "two"), ok(&p, 2, 100, 3.5f64) }
    };
    let t0 = Instant::now();
    let out = plan.run(0).await.unwrap();
    assert_eq!(
        t0.elapsed(),
        ms(100),
        "three 100 ms branches take 100 ms, not 300"
    );
    assert_eq!(out, (1, "two", 3.5));
    assert_eq!(p.max_running(), 3);
    assert_eq!(p.cancelled(), Vec::<u32>::new());
    assert_eq!(p.running(), 0);
}

#[tokio::test(start_paused = true)]
async fn all_output_is_in_branch_order_not_completion_order() {
    let p = Probe::default();
    let plan = plan! { par(all) { ok(&p, 0, 30, 'a'), ok(&p, 1, 20, 'b'), ok(&p, 2, 10, 'c') } };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), ('a', 'b', 'c'));
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(p.finished(), vec![2, 1, 0]);
}

#[tokio::test(start_paused = true)]
async fn bare_par_means_all() {
    let p = Probe::default();
    let plan = plan! { par { ok(&p, 0, 40, 1u8), ok(&p, 1, 60, 2u16) } };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), (1, 2));
    assert_eq!(t0.elapsed(), ms(60));

    let p = Probe::default();
    let plan = plan! { par { ok(&p, 0, 300, 1u8), fails::<u16>(&p, 1, 60) } };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(60), "a bare `par` fails fast like `all`");
    assert_step_failure(&err, 1, "0/1");
    assert_eq!(p.cancelled(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn all_gives_each_branch_a_clone_of_the_input() {
    let plan = plan! {
        par(all) {
            (|x: String| async move { x.len() }),
            (|x: String| x.to_uppercase()),
            (|x: String| async move { format!("{x}!") })
        }
    };
    let out = plan.run("abc".to_string()).await.unwrap();
    assert_eq!(out, (3, "ABC".to_string(), "abc!".to_string()));
}

#[tokio::test(start_paused = true)]
async fn all_fails_fast_and_drops_siblings_before_returning() {
    let p = Probe::default();
    let plan = plan! {
        par(all) { ok(&p, 0, 300, 0u32), fails::<u32>(&p, 1, 50), ok(&p, 2, 200, 2u32) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    // Checked immediately after `.await`: the siblings are already dropped.
    assert_eq!(p.cancelled(), vec![0, 2]);
    assert_eq!(p.running(), 0);
    assert_eq!(p.finished(), vec![1]);
    assert_eq!(
        t0.elapsed(),
        ms(50),
        "the first error ends the group at once"
    );
    assert_step_failure(&err, 1, "0/1");

    // Nothing keeps running in the background: the siblings' after-sleep flags never get set.
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn all_returns_the_first_error_in_time_not_in_branch_order() {
    let p = Probe::default();
    let plan = plan! {
        par(all) { fails::<u32>(&p, 0, 80), fails::<u32>(&p, 1, 30), ok(&p, 2, 200, 2u32) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_step_failure(&err, 1, "0/1");
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(p.cancelled(), vec![0, 2]);
}

#[tokio::test(start_paused = true)]
async fn all_error_inside_a_multi_step_branch_names_its_path() {
    let p = Probe::default();
    let plan = plan! {
        par(all) {
            ok(&p, 0, 10, 0u32) >> fails::<u32>(&p, 1, 10),
            ok(&p, 2, 100, 7u32)
        }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(20));
    assert_step_failure(&err, 1, "0/0/1");
    assert_eq!(p.cancelled(), vec![2]);
}

#[tokio::test(start_paused = true)]
async fn all_turns_a_panicking_branch_into_panicked_and_cancels_siblings() {
    let p = Probe::default();
    let plan = plan! { par(all) { ok(&p, 0, 300, 0u32), panics(&p, 1, 40) } };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(40));
    assert!(err.is_panic(), "{err}");
    match &err {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.path, "0/1");
            assert_eq!(message, "branch 1 exploded");
        }
        other => panic!("expected Panicked, got {other}"),
    }
    assert_eq!(p.cancelled(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn first_treats_a_panicking_branch_as_a_failed_one() {
    let p = Probe::default();
    let plan = plan! { par(first) { panics(&p, 0, 10), ok(&p, 1, 50, 5u32) } };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 5);
    assert_eq!(t0.elapsed(), ms(50));

    let p = Probe::default();
    let plan = plan! { par(first) { panics(&p, 0, 10), fails(&p, 1, 20) } };
    match plan.run(0).await.unwrap_err() {
        PlanError::AllFailed { errors, .. } => {
            assert_eq!(errors.len(), 2);
            assert!(errors[0].is_panic(), "{}", errors[0]);
            assert_eq!(errors[0].node().path, "0/0");
            assert_step_failure(&errors[1], 1, "0/1");
        }
        other => panic!("expected AllFailed, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_inside_a_nested_plan_branch_names_the_step_by_its_full_path() {
    let p = Probe::default();
    let inner = plan! { (|x: u32| x) >> panics(&p, 0, 10) };
    let plan = plan! { par(settled) { inner, ok(&p, 1, 30, 3u32) } };
    let (a, b) = plan.run(0).await.unwrap();
    match a.unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.path, "0/0/1");
            assert_eq!(node.name, "panics(&p, 0, 10)");
            assert_eq!(message, "branch 0 exploded");
        }
        other => panic!("expected Panicked, got {other}"),
    }
    assert_eq!(b.unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_future_drops_every_branch() {
    let p = Probe::default();
    let plan = plan! { par(all) { ok(&p, 0, 100, 0u32), ok(&p, 1, 200, 1u32) } };
    let t0 = Instant::now();
    let cut = tokio::time::timeout(ms(50), plan.run(0)).await;
    assert!(cut.is_err());
    assert_eq!(t0.elapsed(), ms(50));
    assert_eq!(p.started(), vec![0, 1]);
    assert_eq!(p.cancelled(), vec![0, 1]);
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), Vec::<u32>::new());
}

// ---------------------------------------------------------------------------------------------
// settled

#[tokio::test(start_paused = true)]
async fn settled_keeps_every_outcome_and_never_cancels_on_error() {
    let p = Probe::default();
    let plan = plan! {
        par(settled) { ok(&p, 0, 100, 10u32), fails::<&str>(&p, 1, 20), ok(&p, 2, 60, 'z') }
    };
    let t0 = Instant::now();
    let (a, b, c) = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(a.unwrap(), 10);
    assert_step_failure(&b.unwrap_err(), 1, "0/1");
    assert_eq!(c.unwrap(), 'z');
    assert_eq!(
        p.finished(),
        vec![1, 2, 0],
        "the error did not stop the others"
    );
    assert_eq!(p.cancelled(), Vec::<u32>::new());
}

#[tokio::test(start_paused = true)]
async fn settled_isolates_a_panic() {
    let p = Probe::default();
    let plan = plan! { par(settled) { panics(&p, 0, 10), ok(&p, 1, 50, 5u32) } };
    let (a, b) = plan.run(0).await.unwrap();
    assert!(a.unwrap_err().is_panic());
    assert_eq!(b.unwrap(), 5);
    assert_eq!(p.cancelled(), Vec::<u32>::new());
}

#[tokio::test(start_paused = true)]
async fn settled_timeout_marks_unfinished_branches() {
    let p = Probe::default();
    let line = line!() + 2; // the `par`'s
    let plan = plan! {
        par(settled, timeout = 150ms) {
            ok(&p, 0, 100, 1u32),
            fails::<u32>(&p, 1, 120),
            ok(&p, 2, 200, 3u32),
            ok(&p, 3, 900, 4u32)
        }
    };
    let t0 = Instant::now();
    let (a, b, c, d) = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(150));
    assert_eq!(p.cancelled(), vec![2, 3]);
    assert_eq!(a.unwrap(), 1);
    assert_step_failure(&b.unwrap_err(), 1, "0/1");
    let (c, d) = (c.unwrap_err(), d.unwrap_err());
    assert_cut_off(&c, ms(150), NodeKind::Step, "ok(&p, 2, 200, 3u32)", "0/2");
    assert_cut_off(&d, ms(150), NodeKind::Step, "ok(&p, 3, 900, 4u32)", "0/3");
    // The log line names the branch first, then the group whose deadline cut it off.
    assert_eq!(
        c.to_string(),
        format!(
            "`ok(&p, 2, 200, 3u32)` (step at 0/2, {file}:{branch}:13) timed out: cut off by the \
             150ms deadline of `par(settled)` (par at 0, {file}:{line}:9)",
            file = file!(),
            branch = line + 3,
        )
    );
}

/// A cut-off branch that has no node of its own — a chain `a >> b` — is named as the `seq` at
/// the branch's path, located where the chain begins; a construct is named as itself.
#[tokio::test(start_paused = true)]
async fn settled_timeout_names_chains_and_constructs_by_their_branch() {
    let p = Probe::default();
    let line = line!() + 1;
    let plan = plan! {
        par(settled, timeout = 50ms) {
            ok(&p, 0, 10, 0u32),
            ok(&p, 1, 10, 1u32) >> ok(&p, 2, 100, 2u32),
            #[name = "inner"] par(first) { ok(&p, 3, 100, 3u32), ok(&p, 4, 100, 4u32) },
            par(first) { ok(&p, 5, 100, 5u32) }
        }
    };
    let (a, chain, named, unnamed) = plan.run(0).await.unwrap();
    assert_eq!(a.unwrap(), 0);
    let chain = chain.unwrap_err();
    assert_cut_off(&chain, ms(50), NodeKind::Seq, "seq", "0/1");
    assert_eq!(
        chain.node().location.line,
        line + 3,
        "where the chain begins"
    );
    assert_eq!(
        chain.node().label().to_string(),
        format!("seq at par.rs:{}", line + 3)
    );
    let named = named.unwrap_err();
    assert_cut_off(&named, ms(50), NodeKind::Par, "inner", "0/2");
    assert!(
        named.to_string().starts_with("`inner` (par at 0/2, "),
        "{named}"
    );
    let unnamed = unnamed.unwrap_err();
    assert_cut_off(&unnamed, ms(50), NodeKind::Par, "par", "0/3");
    assert!(
        unnamed
            .to_string()
            .starts_with("`par(first)` (par at 0/3, "),
        "{unnamed}"
    );
}

// ---------------------------------------------------------------------------------------------
// first

#[tokio::test(start_paused = true)]
async fn first_success_wins_loser_errors_are_ignored_and_losers_dropped() {
    let p = Probe::default();
    let plan = plan! {
        par(first) { fails(&p, 0, 50), ok(&p, 1, 100, 11u32), ok(&p, 2, 200, 22u32), fails(&p, 3, 400) }
    };
    let t0 = Instant::now();
    let out = plan.run(0).await.unwrap();
    // Checked immediately after `.await`: the losers still running are already dropped.
    assert_eq!(p.cancelled(), vec![2, 3]);
    assert_eq!(p.running(), 0);
    assert_eq!(out, 11);
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(p.finished(), vec![0, 1]);
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), vec![0, 1]);
}

#[tokio::test(start_paused = true)]
async fn first_winner_is_the_earliest_success_not_the_earliest_branch() {
    let p = Probe::default();
    let plan =
        plan! { par(first) { ok(&p, 0, 90, 0u32), ok(&p, 1, 30, 1u32), ok(&p, 2, 60, 2u32) } };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 1);
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(p.cancelled(), vec![0, 2]);
}

#[tokio::test(start_paused = true)]
async fn first_all_failing_is_all_failed_with_every_error_in_branch_order() {
    let p = Probe::default();
    let plan = plan! {
        par(first) { fails::<u32>(&p, 0, 300), fails::<u32>(&p, 1, 100), fails::<u32>(&p, 2, 200) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(
        t0.elapsed(),
        ms(300),
        "first waits for every branch before giving up"
    );
    assert_eq!(p.finished(), vec![1, 2, 0]);
    match &err {
        PlanError::AllFailed { node, errors } => {
            assert_eq!(node.kind, NodeKind::Par);
            assert_eq!(node.path, "0");
            assert_eq!(errors.len(), 3);
            for (i, e) in errors.iter().enumerate() {
                assert_step_failure(e, i as u32, &format!("0/{i}"));
            }
        }
        other => panic!("expected AllFailed, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn first_timeout_fails_only_if_nothing_succeeded() {
    let p = Probe::default();
    let plan = plan! {
        par(first, timeout = 150ms) { fails::<u32>(&p, 0, 50), ok(&p, 1, 200, 1u32) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(150));
    assert_group_timeout(&err, ms(150));
    assert_eq!(p.cancelled(), vec![1]);

    let p = Probe::default();
    let plan = plan! {
        par(first, timeout = 150ms) { fails::<u32>(&p, 0, 50), ok(&p, 1, 120, 1u32), ok(&p, 2, 900, 2u32) }
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 1);
    assert_eq!(t0.elapsed(), ms(120));
    assert_eq!(p.cancelled(), vec![2]);
}

// ---------------------------------------------------------------------------------------------
// first_completed

#[tokio::test(start_paused = true)]
async fn first_completed_an_error_can_win() {
    let p = Probe::default();
    let plan = plan! {
        par(first_completed) { ok(&p, 0, 100, 0u32), fails::<u32>(&p, 1, 50), ok(&p, 2, 70, 2u32) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(p.cancelled(), vec![0, 2]);
    assert_eq!(t0.elapsed(), ms(50));
    assert_step_failure(&err, 1, "0/1");
}

#[tokio::test(start_paused = true)]
async fn first_completed_a_success_can_win() {
    let p = Probe::default();
    let plan = plan! {
        par(first_completed) { fails::<u32>(&p, 0, 100), ok(&p, 1, 80, 7u32) }
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 7);
    assert_eq!(p.cancelled(), vec![0]);
    assert_eq!(t0.elapsed(), ms(80));
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn first_completed_timeout_when_nothing_finished() {
    let p = Probe::default();
    let plan = plan! {
        par(first_completed, timeout = 40ms) { ok(&p, 0, 100, 0u32), fails::<u32>(&p, 1, 50) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(40));
    assert_group_timeout(&err, ms(40));
    assert_eq!(p.cancelled(), vec![0, 1]);
}

// ---------------------------------------------------------------------------------------------
// n_best and best

#[tokio::test(start_paused = true)]
async fn n_best_ranks_best_first_ties_by_branch_order_nan_last() {
    let p = Probe::default();
    // Branch 3 ties with branch 1 and finishes first: branch order still decides the tie.
    let plan = plan! {
        par(n_best(10, by = score)) {
            scored(&p, 0, 50, 0.5),
            scored(&p, 1, 40, 0.9),
            fails(&p, 2, 5),
            scored(&p, 3, 10, 0.9),
            scored(&p, 4, 30, f64::NAN),
            scored(&p, 5, 20, 0.7)
        }
    };
    let t0 = Instant::now();
    let out = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(50), "n_best runs every branch");
    assert_eq!(ids(&out), vec![1, 3, 5, 0, 4]);
    assert!(out[4].1.is_nan());
    assert_eq!(p.cancelled(), Vec::<u32>::new());
}

#[tokio::test(start_paused = true)]
async fn n_best_keeps_at_most_n() {
    let p = Probe::default();
    let plan = plan! {
        par(n_best(2, by = score)) {
            scored(&p, 0, 10, f64::NAN),
            scored(&p, 1, 20, 0.2),
            scored(&p, 2, 30, 0.8),
            scored(&p, 3, 40, 0.8),
            scored(&p, 4, 50, 0.3)
        }
    };
    let out = plan.run(0).await.unwrap();
    assert_eq!(ids(&out), vec![2, 3]);

    // n larger than the successes: every success, ranked.
    let p = Probe::default();
    let plan = plan! {
        par(n_best(3, by = score)) { scored(&p, 0, 10, 0.1), fails(&p, 1, 20), scored(&p, 2, 5, 0.4) }
    };
    let out = plan.run(0).await.unwrap();
    assert_eq!(ids(&out), vec![2, 0]);
}

#[tokio::test(start_paused = true)]
async fn n_best_accepts_any_partial_ord_key_and_closures() {
    let p = Probe::default();
    let plan = plan! {
        par(n_best(2, by = |o: &(u32, f64)| std::cmp::Reverse(o.0))) {
            scored(&p, 7, 10, 0.0),
            scored(&p, 3, 10, 0.0),
            scored(&p, 5, 10, 0.0)
        }
    };
    assert_eq!(ids(&plan.run(0).await.unwrap()), vec![3, 5]);

    let n = 1;
    let plan = plan! {
        par(n_best(n, by = |s: &String| s.len())) {
            (|x: u32| format!("{x}")),
            (|x: u32| format!("{x}{x}{x}")),
            (|x: u32| format!("{x}{x}"))
        }
    };
    assert_eq!(plan.run(12).await.unwrap(), vec!["121212".to_string()]);
}

#[tokio::test(start_paused = true)]
async fn n_best_fails_only_if_no_branch_succeeded() {
    let p = Probe::default();
    let plan = plan! {
        par(n_best(2, by = score)) { fails(&p, 0, 10), scored(&p, 1, 20, 0.5), fails(&p, 2, 30) }
    };
    assert_eq!(ids(&plan.run(0).await.unwrap()), vec![1]);

    let p = Probe::default();
    let plan = plan! {
        par(n_best(2, by = score)) { fails(&p, 0, 30), fails(&p, 1, 20), fails(&p, 2, 10) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(30));
    match &err {
        PlanError::AllFailed { node, errors } => {
            assert_eq!(node.kind, NodeKind::Par);
            assert_eq!(errors.len(), 3);
            for (i, e) in errors.iter().enumerate() {
                assert_step_failure(e, i as u32, &format!("0/{i}"));
            }
        }
        other => panic!("expected AllFailed, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn n_best_timeout_ranks_whatever_finished() {
    let p = Probe::default();
    let plan = plan! {
        par(n_best(2, by = score), timeout = 150ms) {
            scored(&p, 0, 300, 9.0),
            scored(&p, 1, 100, 1.0),
            scored(&p, 2, 50, 2.0),
            fails(&p, 3, 20),
            scored(&p, 4, 140, 0.5)
        }
    };
    let t0 = Instant::now();
    let out = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(150));
    assert_eq!(ids(&out), vec![2, 1]);
    assert_eq!(p.cancelled(), vec![0]);

    let p = Probe::default();
    let plan = plan! {
        par(n_best(2, by = score), timeout = 150ms) { scored(&p, 0, 300, 9.0), scored(&p, 1, 200, 1.0) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(150));
    assert_group_timeout(&err, ms(150));
    assert_eq!(p.cancelled(), vec![0, 1]);
}

#[tokio::test(start_paused = true)]
async fn best_returns_the_single_best_value() {
    let p = Probe::default();
    let plan = plan! {
        par(best(by = score)) {
            scored(&p, 0, 10, 0.3),
            scored(&p, 1, 40, 0.8),
            fails(&p, 2, 5),
            scored(&p, 3, 20, 0.8),
            scored(&p, 4, 30, f64::NAN)
        }
    };
    let t0 = Instant::now();
    let (id, s) = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(40));
    assert_eq!((id, s), (1, 0.8), "ties go to the earlier branch");

    // NaN never beats a number, whatever the branch order.
    let p = Probe::default();
    let plan =
        plan! { par(best(by = score)) { scored(&p, 0, 10, f64::NAN), scored(&p, 1, 20, -1.0) } };
    assert_eq!(plan.run(0).await.unwrap().0, 1);
}

#[tokio::test(start_paused = true)]
async fn best_fails_only_if_nothing_succeeded_and_ranks_what_finished_by_the_deadline() {
    let p = Probe::default();
    let plan = plan! { par(best(by = score)) { fails(&p, 0, 10), fails(&p, 1, 20) } };
    match plan.run(0).await.unwrap_err() {
        PlanError::AllFailed { errors, .. } => {
            assert_eq!(errors.len(), 2);
            assert_step_failure(&errors[0], 0, "0/0");
            assert_step_failure(&errors[1], 1, "0/1");
        }
        other => panic!("expected AllFailed, got {other}"),
    }

    let p = Probe::default();
    let plan = plan! {
        par(best(by = score), timeout = 100ms) {
            scored(&p, 0, 500, 100.0),
            scored(&p, 1, 60, 0.1),
            scored(&p, 2, 90, 0.2)
        }
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap().0, 2);
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(p.cancelled(), vec![0]);

    let p = Probe::default();
    let plan = plan! { par(best(by = score), timeout = 100ms) { scored(&p, 0, 500, 1.0) } };
    let t0 = Instant::now();
    assert_group_timeout(&plan.run(0).await.unwrap_err(), ms(100));
    assert_eq!(t0.elapsed(), ms(100));
}

// ---------------------------------------------------------------------------------------------
// timeout = .. on `all`

#[tokio::test(start_paused = true)]
async fn all_group_timeout_fails_with_timeout_and_drops_the_rest() {
    let p = Probe::default();
    let plan = plan! {
        par(all, timeout = 150ms) { ok(&p, 0, 100, 0u32), ok(&p, 1, 200, 1u32), ok(&p, 2, 300, 2u32) }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(p.cancelled(), vec![1, 2]);
    assert_eq!(t0.elapsed(), ms(150));
    assert!(err.is_timeout());
    assert_group_timeout(&err, ms(150));
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn group_timeout_not_reached_changes_nothing() {
    let p = Probe::default();
    let deadline = ms(500);
    let plan = plan! {
        par(all, timeout = deadline) { ok(&p, 0, 100, 0u32), ok(&p, 1, 200, 1u32) }
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), (0, 1));
    assert_eq!(
        t0.elapsed(),
        ms(200),
        "an unexpired deadline does not delay the group"
    );
}

// ---------------------------------------------------------------------------------------------
// limit = ..

#[tokio::test(start_paused = true)]
async fn limit_caps_concurrency_and_time_is_exact() {
    let p = Probe::default();
    let plan = plan! {
        par(all, limit = 2) {
            ok(&p, 0, 100, 0u32),
            ok(&p, 1, 100, 1u32),
            ok(&p, 2, 100, 2u32),
            ok(&p, 3, 100, 3u32),
            ok(&p, 4, 100, 4u32)
        }
    };
    let t0 = Instant::now();
    let out = plan.run(0).await.unwrap();
    assert_eq!(out, (0, 1, 2, 3, 4));
    assert_eq!(p.max_running(), 2);
    assert_eq!(t0.elapsed(), ms(300), "5 x 100 ms with limit 2 is 3 rounds");
    assert_eq!(p.started(), vec![0, 1, 2, 3, 4], "branches start in order");
}

#[tokio::test(start_paused = true)]
async fn limit_refills_a_slot_as_soon_as_it_frees() {
    let p = Probe::default();
    let k = 2;
    let plan = plan! {
        par(settled, limit = k) {
            ok(&p, 0, 100, 0u32),
            ok(&p, 1, 30, 1u32),
            fails::<u32>(&p, 2, 30),
            ok(&p, 3, 30, 3u32),
            ok(&p, 4, 100, 4u32)
        }
    };
    // t=0: 0,1 start; t=30: 2 starts; t=60: 3; t=90: 4, which ends at 190.
    let t0 = Instant::now();
    let (a, b, c, d, e) = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(190));
    assert_eq!(p.max_running(), 2);
    assert_eq!(p.finished(), vec![1, 2, 3, 0, 4]);
    assert_eq!(
        (a.unwrap(), b.unwrap(), d.unwrap(), e.unwrap()),
        (0, 1, 3, 4)
    );
    assert_step_failure(&c.unwrap_err(), 2, "0/2");
}

#[tokio::test(start_paused = true)]
async fn limit_one_with_first_never_starts_branches_after_the_winner() {
    let p = Probe::default();
    let plan = plan! {
        par(first, limit = 1) { fails(&p, 0, 100), ok(&p, 1, 100, 1u32), ok(&p, 2, 100, 2u32) }
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 1);
    assert_eq!(t0.elapsed(), ms(200));
    assert_eq!(p.started(), vec![0, 1]);
    assert_eq!(p.max_running(), 1);
}

#[tokio::test(start_paused = true)]
async fn limit_with_all_fail_fast_never_starts_the_queued_branches() {
    let p = Probe::default();
    let plan = plan! {
        par(all, limit = 2) {
            ok(&p, 0, 100, 0u32),
            fails::<u32>(&p, 1, 50),
            ok(&p, 2, 10, 2u32),
            ok(&p, 3, 10, 3u32)
        }
    };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(50));
    assert_step_failure(&err, 1, "0/1");
    assert_eq!(p.started(), vec![0, 1]);
    assert_eq!(p.cancelled(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn settled_timeout_with_limit_marks_never_started_branches_too() {
    // Options in either order.
    let p = Probe::default();
    let plan = plan! {
        par(settled, limit = 1, timeout = 150ms) {
            ok(&p, 0, 100, 0u32), ok(&p, 1, 100, 1u32), ok(&p, 2, 100, 2u32)
        }
    };
    let t0 = Instant::now();
    let (a, b, c) = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(150));
    assert_eq!(a.unwrap(), 0);
    let (b, c) = (b.unwrap_err(), c.unwrap_err());
    assert_cut_off(&b, ms(150), NodeKind::Step, "ok(&p, 1, 100, 1u32)", "0/1");
    assert_cut_off(&c, ms(150), NodeKind::Step, "ok(&p, 2, 100, 2u32)", "0/2");
    assert_eq!(p.started(), vec![0, 1]);
    assert_eq!(p.cancelled(), vec![1]);

    let p = Probe::default();
    let plan = plan! {
        par(settled, timeout = 250ms, limit = 1) {
            ok(&p, 0, 100, 0u32), ok(&p, 1, 100, 1u32), ok(&p, 2, 100, 2u32)
        }
    };
    let t0 = Instant::now();
    let (a, b, c) = plan.run(0).await.unwrap();
    assert_eq!(t0.elapsed(), ms(250));
    assert_eq!((a.unwrap(), b.unwrap()), (0, 1));
    let c = c.unwrap_err();
    assert_cut_off(&c, ms(250), NodeKind::Step, "ok(&p, 2, 100, 2u32)", "0/2");
    assert_eq!(p.cancelled(), vec![2]);
}

#[tokio::test(start_paused = true)]
async fn limit_applies_to_ranking_policies() {
    let p = Probe::default();
    let plan = plan! {
        par(n_best(2, by = score), limit = 2) {
            scored(&p, 0, 100, 0.1),
            scored(&p, 1, 100, 0.4),
            scored(&p, 2, 100, 0.3),
            scored(&p, 3, 100, 0.2)
        }
    };
    let t0 = Instant::now();
    assert_eq!(ids(&plan.run(0).await.unwrap()), vec![1, 2]);
    assert_eq!(t0.elapsed(), ms(200));
    assert_eq!(p.max_running(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_par_plan_is_reusable_and_runs_concurrently_with_itself() {
    let p = Probe::default();
    let plan = plan! { par(all) { ok(&p, 0, 100, 1u32), ok(&p, 1, 100, 2u32) } };
    let t0 = Instant::now();
    let (x, y) = tokio::join!(plan.run(0), plan.run(0));
    assert_eq!((x.unwrap(), y.unwrap()), ((1, 2), (1, 2)));
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(p.max_running(), 4);
}

/// Scores that are only partially ordered (Pareto dominance): ranking never fails, and no
/// score left out strictly beats one kept.
#[tokio::test]
async fn n_best_with_a_partial_order_never_fails() {
    #[derive(Clone, Copy, PartialEq, Debug)]
    struct Pareto(u32, u32);
    impl PartialOrd for Pareto {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            use std::cmp::Ordering::*;
            match (self.0.cmp(&other.0), self.1.cmp(&other.1)) {
                (a, b) if a == b => Some(a),
                (Equal, b) => Some(b),
                (a, Equal) => Some(a),
                _ => None,
            }
        }
    }
    fn pareto(x: &u32) -> Pareto {
        Pareto(x % 17, (x * 7) % 13)
    }
    let p = plan! { each(n_best(5, by = pareto)) { (|x: u32| x) } };
    let kept = p.run(0..300u32).await.unwrap();
    assert_eq!(kept.len(), 5);
    for left_out in (0..300u32).filter(|x| !kept.contains(x)) {
        for kept in &kept {
            assert!(
                !(pareto(&left_out) > pareto(kept)
                    && pareto(&left_out).partial_cmp(&pareto(&left_out)).is_some()),
                "{left_out} beats kept {kept} but was left out"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Panics in a score

fn exploding_score(out: &(u32, f64)) -> f64 {
    assert!(out.0 != 1, "score exploded on branch {}", out.0);
    out.1
}

/// The `par` a panic is blamed on: its path and label, and the panic's message.
fn assert_blamed_on(err: &PlanError, path: &str, label: &str, message: &str) {
    match err {
        PlanError::Panicked { node, message: got } => {
            assert_eq!((node.kind, &*node.path), (NodeKind::Par, path), "{err}");
            assert_eq!(node.label().to_string(), label, "{err}");
            assert_eq!(got, message, "{err}");
        }
        other => panic!("expected Panicked, got {other}"),
    }
}

/// A score is the group's own code, run as each branch finishes: its panic names the `par`
/// (for `n_best` and `best`, named or not), not the plan around it.
#[tokio::test(start_paused = true)]
async fn a_panicking_score_is_blamed_on_its_par() {
    let p = Probe::default();
    let line = line!() + 2;
    let plan = plan! {
        (|x: u32| x) >> par(n_best(2, by = exploding_score)) {
            scored(&p, 0, 10, 0.5), scored(&p, 1, 20, 0.9), scored(&p, 2, 900, 0.1)
        }
    };
    let err = plan.run(0).await.unwrap_err();
    let label = format!("par(n_best(2, by = exploding_score)) at par.rs:{line}");
    assert_blamed_on(&err, "1", &label, "score exploded on branch 1");
    assert!(
        err.to_string()
            .starts_with("`par(n_best(2, by = exploding_score))` (par at 1, "),
        "{err}"
    );
    // The panic stopped the group: the slow branch was dropped, as for an error.
    assert_eq!(p.cancelled(), vec![2]);

    let plan = plan! {
        #[name = "pick"] par(best(by = exploding_score)) { scored(&p, 0, 10, 0.5), scored(&p, 1, 20, 0.9) }
    };
    let err = plan.run(0).await.unwrap_err();
    assert_blamed_on(&err, "0", "pick", "score exploded on branch 1");
}
