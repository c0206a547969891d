//! One way to run: every option of a run (`ctx`, `with`, `until`, `timeout`, `monitor`,
//! `options`, `reported`) works with every other, on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{FutureExt, StreamExt};
use plan_runtime::prelude::*;
use plan_runtime::report::{EventKind, Recorder};
use plan_runtime::run::Options;
use plan_runtime::{Cx, Ended, Monitor, NodeInfo};

const MS: Duration = Duration::from_millis(1);

/// The context the plan's steps take.
struct Config {
    factor: u32,
}

/// A value for the tools, found by type.
struct Quota(u32);

/// Counts the branches that started and the ones dropped unfinished.
#[derive(Default)]
struct Counts {
    started: AtomicUsize,
    dropped: AtomicUsize,
}

struct Guard<'a>(&'a AtomicUsize);
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A step that needs the context and reads the run's `Quota` and `Counts`.
struct Scale;
impl Describe for Scale {}
impl Plan<u32, Config> for Scale {
    type Out = u32;
    async fn call(&self, input: u32, cx: Cx<'_, Config>) -> Result<u32, PlanError> {
        let counts = cx.extension::<Counts>();
        if let Some(counts) = counts {
            counts.started.fetch_add(1, Ordering::SeqCst);
        }
        let _guard = counts.map(|c| Guard(&c.dropped));
        let quota = cx.extension::<Quota>().map_or(0, |q| q.0);
        tokio::time::sleep(Duration::from_millis(u64::from(input))).await;
        Ok(input * cx.ctx().factor + quota)
    }
}

fn plus_one(n: u32) -> u32 {
    n + 1
}

/// A monitor that counts the node instances it saw start and end.
#[derive(Default)]
struct Tally {
    started: AtomicUsize,
    ended: AtomicUsize,
}
impl Monitor for Tally {
    fn start(&self, _: &'static NodeInfo) -> usize {
        self.started.fetch_add(1, Ordering::SeqCst)
    }
    fn enter(&self, _: usize) {}
    fn leave(&self, _: usize) {}
    fn end(&self, _: usize, _: Ended<'_>) {
        self.ended.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn every_option_at_once() {
    let plan = plan! { #![name = "scaled"] (Scale) >> plus_one };
    let cfg = Config { factor: 3 };
    let cancel = CancellationToken::new();
    let tally = Tally::default();
    let (out, report) = plan
        .run(10)
        .ctx(&cfg)
        .with(&Quota(5))
        .until(cancel.cancelled())
        .timeout(Duration::from_secs(1))
        .monitor(&tally)
        .reported()
        .await;
    assert_eq!(out.unwrap(), 10 * 3 + 5 + 1);
    // The report and the monitor both saw the whole run: the plan and its two steps.
    assert_eq!(report.find_all("plus_one").count(), 1);
    assert_eq!(tally.started.load(Ordering::SeqCst), 3);
    assert_eq!(tally.ended.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_drops_the_run_and_names_the_plan() {
    let plan = plan! { #![name = "scaled"] (Scale) };
    let counts = Counts::default();
    let t0 = tokio::time::Instant::now();
    let err = plan
        .run(100)
        .ctx(&Config { factor: 1 })
        .with(&counts)
        .timeout(30 * MS)
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.node().name, "scaled");
    assert_eq!(t0.elapsed(), 30 * MS);
    assert_eq!(counts.started.load(Ordering::SeqCst), 1);
    assert_eq!(
        counts.dropped.load(Ordering::SeqCst),
        1,
        "dropped before the run returned"
    );
}

#[tokio::test(start_paused = true)]
async fn cancellation_with_a_report_records_the_drop() {
    let plan = plan! { #![name = "scaled"] (Scale) };
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(20 * MS).await;
        trigger.cancel();
    });
    let (out, report) = plan
        .run(100)
        .ctx(&Config { factor: 1 })
        .until(cancel.cancelled())
        .reported()
        .await;
    let err = out.unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    // The plan's root was dropped with the run, and the report says so.
    let root = report
        .find("scaled")
        .expect("the plan's root is in the report");
    assert!(root.end.is_some(), "{root:?}");
}

#[tokio::test(start_paused = true)]
async fn a_run_that_finished_keeps_its_result_when_the_deadline_is_the_same_instant() {
    let plan = plan! { (Scale) };
    let out = plan
        .run(30)
        .ctx(&Config { factor: 2 })
        .timeout(30 * MS)
        .await;
    assert_eq!(out.unwrap(), 60);
}

#[tokio::test(start_paused = true)]
async fn owned_options_carry_values_cancellation_deadline_and_monitor() {
    let plan = plan! { (Scale) };
    let counts = Arc::new(Counts::default());
    let tally = Arc::new(Tally::default());
    let stop = CancellationToken::new();
    let options = Options::new()
        .with(Quota(7))
        .shared(Arc::clone(&counts))
        .until(stop.clone())
        .timeout(50 * MS)
        .monitor(tally.clone());
    let cfg = Config { factor: 1 };

    // Values and monitor reach the run.
    assert_eq!(plan.run(1).ctx(&cfg).options(&options).await.unwrap(), 8);
    assert_eq!(counts.started.load(Ordering::SeqCst), 1);
    assert!(tally.started.load(Ordering::SeqCst) > 0);
    // The deadline applies to each run.
    let err = plan.run(80).ctx(&cfg).options(&options).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The token cancels every run given the options, at once if already cancelled.
    stop.cancel();
    let err = plan.run(1).ctx(&cfg).options(&options).await.unwrap_err();
    assert!(err.is_cancelled(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_run_is_a_future_for_join_all_and_select() {
    let plan = plan! { (Scale) };
    let cfg = Config { factor: 2 };
    let outs = futures::future::join_all((1..=3).map(|n| plan.run(n).ctx(&cfg))).await;
    let outs: Vec<u32> = outs.into_iter().map(Result::unwrap).collect();
    assert_eq!(outs, [2, 4, 6]);
    let winner = tokio::select! {
        out = plan.run(5).ctx(&cfg) => out.unwrap(),
        out = plan.run(50).ctx(&cfg) => out.unwrap(),
    };
    assert_eq!(winner, 10);
}

#[tokio::test(start_paused = true)]
async fn a_recorder_given_as_monitor_streams_events_and_a_report_is_still_whole() {
    let plan = plan! { #![name = "scaled"] (Scale) >> plus_one };
    let (recorder, mut events) = Recorder::with_events();
    let (out, report) = plan
        .run(1)
        .ctx(&Config { factor: 1 })
        .monitor(&recorder)
        .reported()
        .await;
    assert_eq!(out.unwrap(), 2);
    let mut seen = 0;
    while let Some(Some(event)) = events.next().now_or_never() {
        if matches!(event.kind, EventKind::Finished { .. }) {
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "the caller's recorder saw every node end");
    assert_eq!(report.find_all("plus_one").count(), 1);
    assert_eq!(recorder.report().find_all("plus_one").count(), 1);
}
