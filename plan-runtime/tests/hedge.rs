//! `#[hedge(..)]`: a slow call gets another attempt beside it; the first success wins, the
//! losers are dropped before the node returns, and hedges are limited to a share of calls.
//! Proven on tokio's paused clock by a step that follows a script, one line per attempt.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use common::*;

use plan_runtime::prelude::*;
use plan_runtime::{HedgeDelay, NodeKind};
use tokio::time::Instant;

define_fail!("attempt");

/// A step whose `n`-th attempt (from 0, over all its calls) sleeps `script[n].0` ms and then
/// gives `script[n].1`; attempts past the script take 10 ms and give their number. Each
/// attempt holds a guard with its number.
#[derive(Clone)]
struct Scripted {
    probe: Probe,
    script: Arc<Vec<(u64, Result<u32, Fail>)>>,
    attempts: Arc<AtomicU32>,
}

impl Scripted {
    fn new(script: Vec<(u64, Result<u32, Fail>)>) -> Self {
        Scripted {
            probe: Probe::default(),
            script: Arc::new(script),
            attempts: Arc::default(),
        }
    }

    fn step(&self) -> impl Fn(u32) -> BoxFut<Result<u32, Fail>> + Send + Sync + Clone + 'static {
        let this = self.clone();
        move |_input: u32| {
            let this = this.clone();
            Box::pin(async move {
                let n = this.attempts.fetch_add(1, SeqCst);
                let (sleep, outcome) = this.script.get(n as usize).cloned().unwrap_or((10, Ok(n)));
                let guard = Guard::enter(&this.probe, n);
                tokio::time::sleep(ms(sleep)).await;
                guard.finish();
                outcome
            })
        }
    }

    fn attempts(&self) -> u32 {
        self.attempts.load(SeqCst)
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_is_hedged_after_the_delay_and_the_first_success_wins() {
    let s = Scripted::new(vec![(1000, Ok(1)), (10, Ok(2))]);
    let plan = plan! { #[hedge(after = 50ms)] (s.step()) };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 2);
    assert_eq!(
        t0.elapsed(),
        ms(60),
        "the hedge starts at 50 ms and answers 10 ms later"
    );
    assert_eq!(s.probe.cancelled(), vec![0], "the first attempt is dropped");
    assert_eq!(s.probe.running(), 0, "before the node returns");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_finishes_before_the_delay_is_not_hedged() {
    let s = Scripted::new(vec![(30, Ok(1))]);
    let plan = plan! { #[hedge(after = 50ms)] (s.step()) };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 1);
    assert_eq!(t0.elapsed(), ms(30));
    assert_eq!(s.probe.started(), [0]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_attempt_does_not_fail_the_call_while_another_runs() {
    let s = Scripted::new(vec![(80, Err(Fail(0))), (100, Ok(2))]);
    let plan = plan! { #[hedge(after = 50ms)] (s.step()) };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 2);
    assert_eq!(
        t0.elapsed(),
        ms(150),
        "the first attempt failed at 80 ms; the hedge ran on"
    );
}

#[tokio::test(start_paused = true)]
async fn the_call_fails_when_its_last_running_attempt_fails() {
    // Both attempts fail: the last one's error is the call's.
    let s = Scripted::new(vec![(80, Err(Fail(0))), (50, Err(Fail(1)))]);
    let plan = plan! { #[hedge(after = 50ms)] (s.step()) };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(err.step_error::<Fail>(), Some(&Fail(1)), "{err}");

    // A hedge is not a retry: a first attempt that fails before the delay fails the call.
    let s = Scripted::new(vec![(20, Err(Fail(0)))]);
    let plan = plan! { #[hedge(after = 50ms)] (s.step()) };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(20));
    assert_eq!(err.step_error::<Fail>(), Some(&Fail(0)), "{err}");
    assert_eq!(s.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn max_starts_up_to_that_many_hedges_a_delay_apart() {
    let s = Scripted::new(vec![
        (1000, Ok(0)),
        (1000, Ok(1)),
        (1000, Ok(2)),
        (10, Ok(3)),
    ]);
    let plan = plan! { #[hedge(after = 50ms, max = 2, share = 100%)] (s.step()) };
    let t0 = Instant::now();
    // Hedges at 50 and 100 ms; no third: `max = 2`. The first attempt to succeed wins.
    assert_eq!(plan.run(0).await.unwrap(), 0);
    assert_eq!(t0.elapsed(), ms(1000));
    assert_eq!(s.attempts(), 3);
    assert_eq!(s.probe.cancelled(), vec![1, 2]);
}

/// One call: its attempts share the counter (the input is cloned for each), so the first
/// attempt takes `first_ms` and a hedge 10 ms; each gives its number.
#[derive(Clone)]
struct Call {
    attempts: Arc<AtomicU32>,
    first_ms: u64,
}

fn call(first_ms: u64) -> Call {
    Call {
        attempts: Arc::default(),
        first_ms,
    }
}

async fn service(call: Call) -> u32 {
    let attempt = call.attempts.fetch_add(1, SeqCst);
    let wait = if attempt == 0 { call.first_ms } else { 10 };
    tokio::time::sleep(ms(wait)).await;
    attempt
}

/// Runs `calls` calls one after another; the ones a hedge won.
async fn hedged<P: Plan<Call, Out = u32>>(plan: &P, calls: usize, first_ms: u64) -> Vec<usize> {
    let mut hedged = Vec::new();
    for n in 0..calls {
        if plan.run(call(first_ms)).await.unwrap() > 0 {
            hedged.push(n);
        }
    }
    hedged
}

#[tokio::test(start_paused = true)]
async fn hedges_are_limited_to_a_share_of_calls() {
    // The first call may be hedged; then each call earns 5 % of a hedge: the 20th and the
    // 40th have one again.
    let plan = plan! { #[hedge(after = 50ms, share = 5%)] service };
    assert_eq!(hedged(&plan, 40, 200).await, [0, 19, 39]);

    // At most 10 hedges are saved up: after 400 quick calls (which would have earned 20), 30
    // slow ones get 10, and one more once another has been earned (the first slow call
    // earned nothing on a full reserve: the 21st).
    let plan = plan! { #[hedge(after = 50ms)] service };
    assert!(hedged(&plan, 400, 10).await.is_empty());
    let slow = hedged(&plan, 30, 200).await;
    assert_eq!(slow, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20]);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_follows_the_nodes_recent_latencies() {
    let plan = plan! { #[hedge(after = p95, share = 100%)] service };
    // Too few latencies for a percentile, and no `max_delay`: no hedge.
    let t0 = Instant::now();
    assert_eq!(plan.run(call(1000)).await.unwrap(), 0);
    assert_eq!(t0.elapsed(), ms(1000));
    assert!(hedged(&plan, 19, 10).await.is_empty());
    // 20 latencies now: 19 of 10 ms and one of 1 s, whose 95th percentile is 10 ms.
    let t0 = Instant::now();
    assert_eq!(plan.run(call(1000)).await.unwrap(), 1);
    assert_eq!(
        t0.elapsed(),
        ms(20),
        "hedged at 10 ms, answered 10 ms later"
    );
}

#[tokio::test(start_paused = true)]
async fn min_delay_and_max_delay_clamp_a_percentile() {
    let at_least = plan! { #[hedge(after = p95, min_delay = 30ms, share = 100%)] service };
    let at_most = plan! { #[hedge(after = p50, max_delay = 5ms, share = 100%)] service };
    // Clones of a plan share its nodes' latencies.
    for plan in [&at_least.clone().boxed(), &at_most.clone().boxed()] {
        assert!(hedged(plan, 20, 10).await.is_empty());
    }
    let t0 = Instant::now();
    assert_eq!(at_least.run(call(1000)).await.unwrap(), 1);
    assert_eq!(t0.elapsed(), ms(40));
    let t0 = Instant::now();
    assert_eq!(at_most.run(call(1000)).await.unwrap(), 1);
    assert_eq!(t0.elapsed(), ms(15));

    // Before a percentile means anything, `max_delay` is the delay.
    let cold = plan! { #[hedge(after = p99, max_delay = 40ms)] service };
    let t0 = Instant::now();
    assert_eq!(cold.run(call(1000)).await.unwrap(), 1);
    assert_eq!(t0.elapsed(), ms(50));
}

#[tokio::test(start_paused = true)]
async fn reports_count_hedges_and_name_the_winner() {
    let plan = plan! { #[hedge(after = 50ms)] service };
    let (out, report) = plan.run(call(1000)).reported().await;
    assert_eq!(out.unwrap(), 1);
    let step = report.find("service").unwrap();
    assert_eq!(step.counters, [("hedges", 1.0)]);
    assert_eq!(step.notes, [("winner", "attempt 2".to_owned())]);
    assert_eq!(report.totals(), [("hedges", 1.0)]);
    let timeline = report.timeline().to_string();
    assert!(
        timeline.contains("ok, hedges 1, winner attempt 2"),
        "{timeline}"
    );

    // A call that needed no hedge says nothing of hedges.
    let (_, report) = plan.run(call(10)).reported().await;
    let step = report.find("service").unwrap();
    assert!(step.counters.is_empty() && step.notes.is_empty());

    let graph = plan.graph();
    let node = graph
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Step)
        .unwrap();
    let hedge = node.hedge.unwrap();
    assert_eq!(
        (hedge.after, hedge.max, hedge.share),
        (HedgeDelay::After(ms(50)), 1, 0.05)
    );
    assert!(
        graph.to_mermaid().contains("service ⑂50ms"),
        "{}",
        graph.to_mermaid()
    );
}

#[tokio::test(start_paused = true)]
async fn hedge_composes_with_retry_and_timeout() {
    // Each retry is a hedged call; the timeout covers them all.
    let s = Scripted::new(vec![(20, Err(Fail(0))), (1000, Ok(1)), (10, Ok(2))]);
    let plan = plan! { #[timeout(1s)] #[retry(2)] #[hedge(after = 50ms, share = 100%)] (s.step()) };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 2);
    assert_eq!(t0.elapsed(), ms(80), "20 ms to fail, then 50 + 10 ms");
    assert_eq!(s.probe.cancelled(), vec![1]);
}
