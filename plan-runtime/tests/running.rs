//! Running a plan (`plan.run(input)` and its options), reuse, cancellation, drops and panics,
//! observed on tokio's paused clock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use plan_runtime::prelude::*;
use plan_runtime::report::Outcome;
use plan_runtime::{NodeKind, NodeRef};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

/// Observations of the branches of a run, shared through the run context.
#[derive(Default)]
struct Probe {
    started: AtomicUsize,
    dropped: AtomicUsize,
    finished: AtomicUsize,
}

impl Probe {
    fn counts(&self) -> (usize, usize, usize) {
        (
            self.started.load(Ordering::SeqCst),
            self.dropped.load(Ordering::SeqCst),
            self.finished.load(Ordering::SeqCst),
        )
    }
}

/// Counts its own destruction: when a branch is dropped (cancelled or done), so is its guard.
struct Guard<'a>(&'a AtomicUsize);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sleeps 100 ms holding a guard; counts starts and finishes.
async fn slow(x: u32, probe: &Probe) -> u32 {
    probe.started.fetch_add(1, Ordering::SeqCst);
    let _guard = Guard(&probe.dropped);
    tokio::time::sleep(100 * MS).await;
    probe.finished.fetch_add(1, Ordering::SeqCst);
    x
}

async fn fast(x: u32) -> u32 {
    tokio::time::sleep(10 * MS).await;
    x + 1000
}

async fn fail_after_20ms(x: u32) -> Result<u32, String> {
    tokio::time::sleep(20 * MS).await;
    Err(format!("failed on {x}"))
}

fn add_one(x: u32) -> u32 {
    x + 1
}

fn boom(x: u32) -> u32 {
    panic!("boom on {x}")
}

fn boom_literal(_: u32) -> u32 {
    panic!("a literal panic")
}

async fn boom_after_10ms(x: u32) -> u32 {
    tokio::time::sleep(10 * MS).await;
    panic!("late boom on {x}")
}

fn assert_send_sync_static<T: Send + Sync + 'static>(_: &T) {}

fn assert_send<T: Send>(_: &T) {}

// ---------------------------------------------------------------------------------------------
// `run` with and without a context.

struct Offset(u32);

fn add_offset(x: u32, ctx: &Offset) -> u32 {
    x + ctx.0
}

#[tokio::test]
async fn run_with_and_without_a_context() {
    let p = plan! { add_one >> add_one };
    assert_eq!(p.run(1).await.unwrap(), 3);
    // A context-free plan runs with the unit context too.
    assert_eq!(p.run(1).await.unwrap(), 3);

    let p = plan! { add_one >> add_offset };
    assert_eq!(p.run(1).ctx(&Offset(10)).await.unwrap(), 12);
    assert_eq!(p.run(1).ctx(&Offset(20)).await.unwrap(), 22);
}

// ---------------------------------------------------------------------------------------------
// A plan is a value: Send + Sync, reusable.

#[derive(Clone, Debug, Default, PartialEq, Lens)]
struct State {
    n: u32,
    log: Vec<String>,
}

fn into_state(n: u32) -> State {
    State { n, log: vec![] }
}

fn is_big(s: &State) -> bool {
    s.n > 100
}

fn note(mut s: State) -> State {
    s.log.push(format!("n={}", s.n));
    s
}

fn big_enough(s: &State) -> bool {
    s.n >= 10
}

#[tokio::test(start_paused = true)]
async fn a_plan_is_send_sync_static_and_reusable() {
    let p = plan! {
        into_state
        >> #[timeout(1s)] par(all) { (|s: State| s.n), blocking(|s: State| s.n * 2) }
        >> (|(a, b): (u32, u32)| vec![a, b])
        >> each(all, limit = 2) { add_one }
        >> (|v: Vec<u32>| into_state(v.iter().sum()))
        >> choose { if is_big => note, else => seq { note >> note } }
        >> focus(State::n) { #[retry(2)] add_one }
        >> loop(until = big_enough, max = 20) { focus(State::n) { add_one } }
    };
    assert_send_sync_static(&p);
    let run = p.run(1);
    assert_send(&run);
    run.await.unwrap();

    // 1 -> (1, 2) -> [2, 3] -> 5 -> two notes -> 6 -> loop to 10
    let small = State {
        n: 10,
        log: vec!["n=5".into(), "n=5".into()],
    };
    // 50 -> (50, 100) -> [51, 101] -> 152 -> one note -> 153 -> one pass -> 154
    let big = State {
        n: 154,
        log: vec!["n=152".into()],
    };
    assert_eq!(p.run(1).await.unwrap(), small);
    assert_eq!(p.run(50).await.unwrap(), big);
    assert_eq!(p.run(1).await.unwrap(), small);

    // Shared across tasks.
    let p = Arc::new(p);
    let handles: Vec<_> = [1, 50]
        .into_iter()
        .map(|input| {
            let p = Arc::clone(&p);
            tokio::spawn(async move { p.run(input).await })
        })
        .collect();
    let mut outs = Vec::new();
    for handle in handles {
        outs.push(handle.await.unwrap().unwrap());
    }
    assert_eq!(outs, vec![small, big]);
}

// ---------------------------------------------------------------------------------------------
// Runs concurrently.

/// A step sleeping 100 ms that tracks how many runs are inside it at once.
fn tracked_sleep(
    inside: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
) -> impl Fn(u32) -> std::pin::Pin<Box<dyn Future<Output = u32> + Send>> + Send + Sync {
    move |x| {
        let (inside, peak) = (Arc::clone(&inside), Arc::clone(&peak));
        Box::pin(async move {
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(100 * MS).await;
            inside.fetch_sub(1, Ordering::SeqCst);
            x * 10
        })
    }
}

#[tokio::test(start_paused = true)]
async fn runs_of_one_plan_proceed_concurrently_across_tasks() {
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let p = Arc::new(plan! { add_one >> tracked_sleep(inside.clone(), peak.clone()) });

    let t0 = Instant::now();
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let p = Arc::clone(&p);
            tokio::spawn(async move { p.run(i).await })
        })
        .collect();
    let mut outs = Vec::new();
    for handle in handles {
        outs.push(handle.await.unwrap().unwrap());
    }
    assert_eq!(t0.elapsed(), 100 * MS);
    assert_eq!(outs, (1..=10).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(peak.load(Ordering::SeqCst), 10);
    assert_eq!(inside.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn runs_of_one_plan_proceed_concurrently_in_one_task() {
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let p = plan! { add_one >> tracked_sleep(inside.clone(), peak.clone()) };

    let t0 = Instant::now();
    let outs = futures::future::join_all((0..10).map(|i| p.run(i))).await;
    assert_eq!(t0.elapsed(), 100 * MS);
    let outs: Vec<u32> = outs.into_iter().map(Result::unwrap).collect();
    assert_eq!(outs, (1..=10).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(peak.load(Ordering::SeqCst), 10);
}

// ---------------------------------------------------------------------------------------------
// Dropping the run future cancels everything in flight.

#[tokio::test(start_paused = true)]
async fn dropping_the_run_future_via_timeout_cancels_every_branch() {
    let probe = Probe::default();
    let p =
        plan! { add_one >> par(all) { slow, slow, add_one >> slow, par(settled) { slow, slow } } };

    let t0 = Instant::now();
    let out = tokio::time::timeout(50 * MS, p.run(1).ctx(&probe)).await;
    assert!(out.is_err(), "the run was cut off");
    assert_eq!(t0.elapsed(), 50 * MS);
    // Every branch had started, and every one was dropped by the time the run future was.
    assert_eq!(probe.counts(), (5, 5, 0));

    // Nothing keeps running in the background.
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (5, 5, 0));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_future_via_select_cancels_every_branch() {
    let probe = Probe::default();
    let p = plan! { par(settled) { slow, slow, slow } };

    let t0 = Instant::now();
    tokio::select! {
        _ = p.run(1).ctx(&probe) => panic!("the run cannot finish before 100 ms"),
        () = tokio::time::sleep(30 * MS) => {}
    }
    assert_eq!(t0.elapsed(), 30 * MS);
    assert_eq!(probe.counts(), (3, 3, 0));
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (3, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn dropping_a_polled_run_future_by_hand_drops_its_branches() {
    let probe = Probe::default();
    let p = plan! { par(all) { slow, slow } };

    let mut run = p.run(1).ctx(&probe);
    assert!(futures::poll!(&mut run).is_pending());
    assert_eq!(probe.counts(), (2, 0, 0), "both branches are in flight");
    tokio::time::sleep(60 * MS).await;
    assert_eq!(
        probe.counts(),
        (2, 0, 0),
        "still in flight, not polled to completion"
    );
    drop(run);
    assert_eq!(probe.counts(), (2, 2, 0), "dropped with the run future");
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (2, 2, 0));
}

// ---------------------------------------------------------------------------------------------
// External cancellation.

#[tokio::test(start_paused = true)]
async fn run_until_a_cancellation_token_fires() {
    let probe = Probe::default();
    let p = plan! { add_one >> par(all) { slow, slow, slow } };
    let token = CancellationToken::new();
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(50 * MS).await;
        canceller.cancel();
    });

    let t0 = Instant::now();
    let err = p
        .run(1)
        .ctx(&probe)
        .until(token.cancelled())
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), 50 * MS);
    assert!(err.is_cancelled(), "{err:?}");
    assert!(matches!(err, PlanError::Cancelled { .. }));
    assert_eq!(err.node().kind, NodeKind::Plan);
    assert_eq!(err.node().path, "");
    // The branches were dropped before the run returned.
    assert_eq!(probe.counts(), (3, 3, 0));
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (3, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn run_until_without_cancellation_finishes_normally() {
    let probe = Probe::default();
    let p = plan! { add_one >> par(all) { slow, slow } };
    let token = CancellationToken::new();
    let t0 = Instant::now();
    let out = p.run(1).ctx(&probe).until(token.cancelled()).await.unwrap();
    assert_eq!(out, (2, 2));
    assert_eq!(t0.elapsed(), 100 * MS);
    assert_eq!(probe.counts(), (2, 2, 2));
}

#[tokio::test(start_paused = true)]
async fn run_until_an_already_cancelled_token_returns_at_once() {
    let probe = Probe::default();
    let p = plan! { par(all) { slow, slow } };
    let token = CancellationToken::new();
    token.cancel();
    let t0 = Instant::now();
    let err = p
        .run(1)
        .ctx(&probe)
        .until(token.cancelled())
        .await
        .unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(t0.elapsed(), Duration::ZERO);
    let (started, dropped, finished) = probe.counts();
    assert_eq!((dropped, finished), (started, 0));
}

// ---------------------------------------------------------------------------------------------
// Panics.

#[tokio::test]
async fn a_panicking_step_becomes_panicked_naming_the_node() {
    let p = plan! { add_one >> boom >> add_one };
    let err = p.run(1).await.unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    match &err {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.name, "boom");
            assert_eq!(node.kind, NodeKind::Step);
            assert_eq!(node.path, "1");
            assert_eq!(message, "boom on 2");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }

    let p = plan! { boom_literal };
    match p.run(1).await.unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.name, "boom_literal");
            assert_eq!(node.path, "0");
            assert_eq!(message, "a literal panic");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
}

/// An async step that panics while it makes its future, before anything awaits it.
fn boom_before_its_future(x: u32) -> impl std::future::Future<Output = u32> {
    panic!("early boom on {x}");
    #[allow(unreachable_code)]
    async move {
        x
    }
}

/// A sequence calls its steps one way when nobody observes the run and another when a run
/// report does: a panic in a step is blamed on that step either way — a sync step, an async
/// step while it makes its future or after it waited, in a sequence or in a branch — and the
/// steps after it never run.
#[tokio::test(start_paused = true)]
async fn a_panicking_step_is_blamed_on_it_whether_or_not_the_run_is_observed() {
    let after = AtomicUsize::new(0);
    let count = |x: u32| {
        after.fetch_add(1, Ordering::SeqCst);
        x
    };
    let sync = plan! { add_one >> boom >> (count) };
    let early = plan! { add_one >> boom_before_its_future >> (count) };
    let late = plan! { add_one >> add_one >> boom_after_10ms >> (count) };
    let branch = plan! { par(all) { add_one, seq { add_one >> boom_before_its_future } } };
    for reported in [false, true] {
        let blamed = [
            panicked(&sync, reported).await,
            panicked(&early, reported).await,
            panicked(&late, reported).await,
            panicked(&branch, reported).await,
        ];
        let expected = [
            ("boom", "1", "boom on 2"),
            ("boom_before_its_future", "1", "early boom on 2"),
            ("boom_after_10ms", "2", "late boom on 3"),
            ("boom_before_its_future", "0/1/1", "early boom on 2"),
        ];
        for ((node, message), (name, path, said)) in blamed.into_iter().zip(expected) {
            assert_eq!(
                (node.name, &*node.path),
                (name, path),
                "reported: {reported}"
            );
            assert_eq!(message, said, "reported: {reported}");
        }
    }
    assert_eq!(
        after.load(Ordering::SeqCst),
        0,
        "a step after the panic ran"
    );
}

/// Runs `plan` on 1, with a run report (an observed run) or without, and returns the node and
/// message of the `Panicked` it fails with; with a report, checks that it records the panic on
/// that node too.
async fn panicked<O: std::fmt::Debug>(
    plan: &impl Plan<u32, Out = O>,
    reported: bool,
) -> (NodeRef, String) {
    let (err, report) = if reported {
        let (out, report) = plan.run(1).reported().await;
        (out.unwrap_err(), Some(report))
    } else {
        (plan.run(1).await.unwrap_err(), None)
    };
    let PlanError::Panicked { node, message } = err else {
        panic!("expected Panicked, got {err:?}");
    };
    if let Some(report) = report {
        let record = report.nodes.iter().find(|n| n.path == node.path).unwrap();
        assert_eq!(record.name, node.name);
        assert!(
            matches!(
                record.outcome,
                Outcome::Failed {
                    error: "panicked",
                    ..
                }
            ),
            "{:?}",
            record.outcome
        );
    }
    (*node, message)
}

#[tokio::test(start_paused = true)]
async fn a_panicking_branch_in_settled_leaves_its_siblings_results() {
    let probe = Probe::default();
    let p = plan! { add_one >> par(settled) { boom_after_10ms, slow, add_one } };
    let t0 = Instant::now();
    let (a, b, c) = p.run(1).ctx(&probe).await.unwrap();
    assert_eq!(t0.elapsed(), 100 * MS);
    match a.unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.name, "boom_after_10ms");
            assert_eq!(node.path, "1/0");
            assert_eq!(message, "late boom on 2");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(b.unwrap(), 2);
    assert_eq!(c.unwrap(), 3);
    assert_eq!(probe.counts(), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_branch_in_all_cancels_its_siblings() {
    let probe = Probe::default();
    let p = plan! { par(all) { slow, boom_after_10ms, slow } };
    let t0 = Instant::now();
    let err = p.run(1).ctx(&probe).await.unwrap_err();
    assert_eq!(t0.elapsed(), 10 * MS);
    assert!(err.is_panic());
    assert_eq!(err.node().path, "0/1");
    assert_eq!(probe.counts(), (2, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_blocking_step_becomes_panicked() {
    let p = plan! { add_one >> blocking(boom) };
    match p.run(1).await.unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.name, "blocking(boom)");
            assert_eq!(node.kind, NodeKind::Blocking);
            assert_eq!(node.path, "1");
            assert_eq!(message, "boom on 2");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// No task outlives the run.

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn losers_of_first_are_dropped_before_run_returns() {
    let probe = Probe::default();
    let p = plan! { par(first) { slow, fast, slow } };
    let t0 = Instant::now();
    assert_eq!(p.run(1).ctx(&probe).await.unwrap(), 1001);
    assert_eq!(t0.elapsed(), 10 * MS);
    assert_eq!(probe.counts(), (2, 2, 0));
    assert_eq!(alive_tasks(), 0);
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (2, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn losers_of_first_completed_are_dropped_before_run_returns() {
    let probe = Probe::default();
    let p = plan! { par(first_completed) { slow, fail_after_20ms, slow } };
    let t0 = Instant::now();
    let err = p.run(1).ctx(&probe).await.unwrap_err();
    assert_eq!(t0.elapsed(), 20 * MS);
    assert_eq!(err.node().name, "fail_after_20ms");
    assert_eq!(probe.counts(), (2, 2, 0));
    assert_eq!(alive_tasks(), 0);
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (2, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn siblings_of_a_failed_branch_are_dropped_before_run_returns() {
    let probe = Probe::default();
    let p = plan! { par(all) { slow, fail_after_20ms, slow >> slow } };
    let t0 = Instant::now();
    let err = p.run(1).ctx(&probe).await.unwrap_err();
    assert_eq!(t0.elapsed(), 20 * MS);
    assert_eq!(err.node().path, "0/1");
    assert_eq!(probe.counts(), (2, 2, 0));
    assert_eq!(alive_tasks(), 0);
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (2, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_node_is_dropped_before_run_returns() {
    let probe = Probe::default();
    let p = plan! { add_one >> #[timeout(30ms)] slow >> add_one };
    let t0 = Instant::now();
    let err = p.run(1).ctx(&probe).await.unwrap_err();
    assert_eq!(t0.elapsed(), 30 * MS);
    assert!(err.is_timeout());
    assert_eq!(probe.counts(), (1, 1, 0));

    let p = plan! { par(all, timeout = 40ms) { slow, slow } };
    let probe = Probe::default();
    let t0 = Instant::now();
    let err = p.run(1).ctx(&probe).await.unwrap_err();
    assert_eq!(t0.elapsed(), 40 * MS);
    assert!(err.is_timeout());
    assert_eq!(probe.counts(), (2, 2, 0));
    assert_eq!(alive_tasks(), 0);
    tokio::time::sleep(500 * MS).await;
    assert_eq!(probe.counts(), (2, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_finished_run_leaves_nothing_alive() {
    let probe = Probe::default();
    let p = plan! { par(all) { slow, slow >> slow, par(settled) { slow, slow } } };
    let t0 = Instant::now();
    let (a, b, (c, d)) = p.run(7).ctx(&probe).await.unwrap();
    assert_eq!((a, b, c.unwrap(), d.unwrap()), (7, 7, 7, 7));
    assert_eq!(t0.elapsed(), 200 * MS);
    assert_eq!(probe.counts(), (5, 5, 5));
    assert_eq!(alive_tasks(), 0);
}

/// A blocking call cannot be interrupted: as documented, a deadline stops the plan waiting for
/// it at once, and the call itself runs on to completion on its pool thread.
#[tokio::test(start_paused = true)]
async fn a_deadline_on_a_blocking_step_returns_at_once_and_the_call_runs_on() {
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    let rx = Mutex::new(rx);
    let done = Arc::new(AtomicBool::new(false));
    let finished = Arc::clone(&done);
    let wait = move |x: u32| {
        let got = rx
            .lock()
            .unwrap()
            .recv_timeout(std::time::Duration::from_secs(20));
        finished.store(got.is_ok(), Ordering::SeqCst);
        x
    };
    let p = plan! { #[timeout(50ms)] blocking(wait) };

    let t0 = Instant::now();
    // Time does not auto-advance while a blocking task runs; advance it by hand.
    let (out, ()) = tokio::join!(p.run(1), tokio::time::advance(50 * MS));
    let err = out.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.node().kind, NodeKind::Blocking);
    assert_eq!(t0.elapsed(), 50 * MS);
    assert!(!done.load(Ordering::SeqCst), "the call is still waiting");

    tx.send(()).unwrap();
    let real = std::time::Instant::now();
    while !done.load(Ordering::SeqCst) {
        assert!(
            real.elapsed() < std::time::Duration::from_secs(20),
            "the call never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn inc_for_blame(x: u32) -> u32 {
    x + 1
}

fn predicate_panics(_: &u32) -> bool {
    panic!("predicate")
}

fn step_panics(_: u32) -> u32 {
    panic!("step")
}

/// A panic outside any step of a nested plan (in a predicate) is blamed on the nested plan's
/// node that called it, by its full path — not on the outer step that holds the plan; and a
/// panic caught by the user earlier leaves no stale blame behind.
#[tokio::test]
async fn panics_are_blamed_on_the_node_they_come_from() {
    let inner = plan! { choose { if predicate_panics => inc_for_blame, else => inc_for_blame } };
    let outer = plan! { inc_for_blame >> inner >> inc_for_blame };
    match outer.run(1).await.unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!(message, "predicate");
            assert_eq!(node.path, "1/0", "{node}");
            assert_eq!(
                (node.kind, node.name),
                (NodeKind::Choose, "choose"),
                "{node}"
            );
        }
        other => panic!("expected Panicked, got {other}"),
    }

    // A step built by hand (no plan root to catch its panic) panics in a task on this
    // thread, and tokio catches it...
    static STRAY: plan_runtime::NodeInfo =
        plan_runtime::NodeInfo::new("stray", plan_runtime::NodeKind::Step, "7");
    let stray = plan_runtime::nodes::leaf(&STRAY, plan_runtime::step!(step_panics));
    let handle = tokio::spawn(async move { stray.run(1).await });
    assert!(handle.await.unwrap_err().is_panic());
    // ...then a plan's predicate panics on the same thread: blamed on that plan's node.
    let p = plan! { choose { if predicate_panics => inc_for_blame, else => inc_for_blame } };
    let err = p.run(1).await.unwrap_err();
    assert_eq!(
        (err.node().name, &*err.node().path),
        ("choose", "0"),
        "{err}"
    );
}
