//! Attributes on plan items: `#[timeout(..)]`, `#[retry(..)]`, `#[name = ".."]`, duration
//! syntax, and attribute order — proven on tokio's paused clock with attempt counters, drop
//! guards and after-sleep flags.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

mod common;

use common::*;

use plan_runtime::prelude::*;
use plan_runtime::{Location, NodeKind, NodeRef};
use tokio::time::Instant;

define_fail!("attempt");

// ---------------------------------------------------------------------------------------------
// Observation helpers

/// Step `id`: sleeps `sleep_ms`, then passes its input on.
fn sleeper(
    probe: &Probe,
    id: u32,
    sleep_ms: u64,
) -> impl Fn(u32) -> BoxFut<u32> + Send + Sync + 'static {
    let probe = probe.clone();
    move |x: u32| {
        let probe = probe.clone();
        Box::pin(async move {
            let guard = Guard::enter(&probe, id);
            tokio::time::sleep(ms(sleep_ms)).await;
            guard.finish();
            x
        })
    }
}

/// Counts the attempts of a retried step, with their start times and inputs.
#[derive(Clone, Default)]
struct Attempts(Arc<AttemptsInner>);

#[derive(Default)]
struct AttemptsInner {
    count: AtomicU32,
    at: Mutex<Vec<Instant>>,
    inputs: Mutex<Vec<u32>>,
}

impl Attempts {
    fn count(&self) -> u32 {
        self.0.count.load(SeqCst)
    }
    fn at(&self) -> Vec<Instant> {
        self.0.at.lock().unwrap().clone()
    }
    fn inputs(&self) -> Vec<u32> {
        self.0.inputs.lock().unwrap().clone()
    }
    /// Records an attempt; returns its number (1-based).
    fn begin(&self, input: u32) -> u32 {
        self.0.at.lock().unwrap().push(Instant::now());
        self.0.inputs.lock().unwrap().push(input);
        self.0.count.fetch_add(1, SeqCst) + 1
    }
}

const ALWAYS: u32 = u32::MAX;

/// Attempt `k` sleeps `sleeps[k - 1]` (the last entry for later attempts), then fails with
/// `Fail(k)` if `k <= fail_first`, else returns `input + 1000 * k`.
fn flaky(
    attempts: &Attempts,
    fail_first: u32,
    sleeps: &'static [u64],
) -> impl Fn(u32) -> BoxFut<Result<u32, Fail>> + Send + Sync + 'static {
    let attempts = attempts.clone();
    move |input: u32| {
        let attempts = attempts.clone();
        Box::pin(async move {
            let k = attempts.begin(input);
            let sleep = sleeps[(k as usize - 1).min(sleeps.len() - 1)];
            tokio::time::sleep(ms(sleep)).await;
            if k <= fail_first {
                Err(Fail(k))
            } else {
                Ok(input + 1000 * k)
            }
        })
    }
}

fn panicky(attempts: &Attempts) -> impl Fn(u32) -> BoxFut<u32> + Send + Sync + 'static {
    let attempts = attempts.clone();
    move |input: u32| {
        let attempts = attempts.clone();
        Box::pin(async move {
            let k = attempts.begin(input);
            panic!("attempt {k} panicked");
        })
    }
}

fn expect_timeout(err: &PlanError) -> (&NodeRef, Duration) {
    match err {
        PlanError::Timeout { node, after, .. } => (node, *after),
        other => panic!("expected Timeout, got {other}"),
    }
}

/// Runs `plan` on a step that sleeps for an hour and checks it is cut at `after`.
async fn assert_cut_at<P: Plan<u32, Out = u32>>(plan: &P, probe: &Probe, after: Duration) {
    let t0 = Instant::now();
    let err = plan.run(1).await.unwrap_err();
    assert_eq!(t0.elapsed(), after);
    let (_, got) = expect_timeout(&err);
    assert_eq!(got, after);
    assert_eq!(probe.running(), 0);
    assert_eq!(probe.finished(), Vec::<u32>::new());
}

// ---------------------------------------------------------------------------------------------
// #[timeout(..)]

#[tokio::test(start_paused = true)]
async fn timeout_on_a_step_cancels_it_and_names_it() {
    let p = Probe::default();
    let line = line!();
    let plan = plan! {
        (|x: u32| x + 1)
        >> #[timeout(100ms)] sleeper(&p, 7, 500)
        >> (|x: u32| x * 2)
    };
    let t0 = Instant::now();
    let err = plan.run(1).await.unwrap_err();
    // Checked immediately after `.await`: the timed-out step is already dropped.
    assert_eq!(p.cancelled(), vec![7]);
    assert_eq!(p.running(), 0);
    assert_eq!(t0.elapsed(), ms(100));
    assert!(err.is_timeout());
    let (node, after) = expect_timeout(&err);
    assert_eq!(after, ms(100));
    assert_eq!(node.name, "sleeper(&p, 7, 500)");
    assert_eq!(node.kind, NodeKind::Step);
    assert_eq!(node.path, "1");
    assert_eq!(node.location.file, file!());
    assert_eq!(node.location.line, line + 3);
    let text = err.to_string();
    assert!(text.contains("`sleeper(&p, 7, 500)`"), "{text}");
    assert!(text.contains("timed out after 100ms"), "{text}");

    // The after-sleep flag is never set, not even later.
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), Vec::<u32>::new());
}

#[tokio::test(start_paused = true)]
async fn timeout_not_reached_does_not_delay_or_change_the_result() {
    let p = Probe::default();
    let plan = plan! { #[timeout(100ms)] sleeper(&p, 0, 60) >> (|x: u32| x + 1) };
    let t0 = Instant::now();
    assert_eq!(plan.run(1).await.unwrap(), 2);
    assert_eq!(t0.elapsed(), ms(60));
    assert_eq!(p.finished(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn timeout_clock_starts_when_the_item_starts() {
    let p = Probe::default();
    // The first step takes 80 ms; the second has 100 ms of its own from when it starts.
    let plan = plan! { sleeper(&p, 0, 80) >> #[timeout(100ms)] sleeper(&p, 1, 90) };
    let t0 = Instant::now();
    assert_eq!(plan.run(5).await.unwrap(), 5);
    assert_eq!(t0.elapsed(), ms(170));
}

#[tokio::test(start_paused = true)]
async fn timeout_on_a_par_group() {
    let p = Probe::default();
    let plan = plan! {
        (|x: u32| x) >> #[timeout(150ms)] par(all) { sleeper(&p, 0, 100), sleeper(&p, 1, 300) }
    };
    let t0 = Instant::now();
    let err = plan.run(1).await.unwrap_err();
    assert_eq!(p.cancelled(), vec![1]);
    assert_eq!(t0.elapsed(), ms(150));
    let (node, after) = expect_timeout(&err);
    assert_eq!(after, ms(150));
    assert_eq!(node.kind, NodeKind::Par);
    assert_eq!(node.name, "par");
    assert_eq!(node.path, "1");
    tokio::time::sleep(ms(1_000)).await;
    assert_eq!(p.finished(), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn timeout_attribute_on_settled_fails_the_whole_item() {
    // Unlike the group option `timeout = ..`, the attribute cancels the item as a whole.
    let p = Probe::default();
    let plan = plan! {
        #[name = "fanout"] #[timeout(150ms)] par(settled) { sleeper(&p, 0, 100), sleeper(&p, 1, 300) }
    };
    let t0 = Instant::now();
    let err = plan.run(1).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(150));
    let (node, _) = expect_timeout(&err);
    assert_eq!(
        (node.name, node.kind, node.path.as_str()),
        ("fanout", NodeKind::Par, "0")
    );
    assert_eq!(p.cancelled(), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn timeout_inside_a_nested_plan_has_the_full_path() {
    let p = Probe::default();
    let inner = plan! { (|x: u32| x) >> #[timeout(10ms)] sleeper(&p, 0, 100) };
    let outer = plan! { (|x: u32| x) >> (|x: u32| x) >> inner };
    let t0 = Instant::now();
    let err = outer.run(1).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(10));
    let (node, after) = expect_timeout(&err);
    assert_eq!(after, ms(10));
    assert_eq!(node.path, "2/1");
    assert_eq!(node.name, "sleeper(&p, 0, 100)");
}

// ---------------------------------------------------------------------------------------------
// Durations

#[tokio::test(start_paused = true)]
async fn duration_literal_250ms() {
    let p = Probe::default();
    let plan = plan! { #[timeout(250ms)] sleeper(&p, 0, 3_600_000) };
    assert_cut_at(&plan, &p, ms(250)).await;
}

#[tokio::test(start_paused = true)]
async fn duration_literal_1_5s() {
    let p = Probe::default();
    let plan = plan! { #[timeout(1.5s)] sleeper(&p, 0, 3_600_000) };
    assert_cut_at(&plan, &p, ms(1_500)).await;
}

#[tokio::test(start_paused = true)]
async fn duration_literal_2s() {
    let p = Probe::default();
    let plan = plan! { #[timeout(2s)] sleeper(&p, 0, 3_600_000) };
    assert_cut_at(&plan, &p, Duration::from_secs(2)).await;
}

#[tokio::test(start_paused = true)]
async fn duration_literal_1m() {
    let p = Probe::default();
    let plan = plan! { #[timeout(1m)] sleeper(&p, 0, 3_600_000) };
    assert_cut_at(&plan, &p, Duration::from_secs(60)).await;
}

#[tokio::test(start_paused = true)]
async fn duration_literal_10us() {
    let p = Probe::default();
    let plan = plan! { #[timeout(10us)] sleeper(&p, 0, 3_600_000) };
    let t0 = Instant::now();
    let err = plan.run(1).await.unwrap_err();
    let (_, after) = expect_timeout(&err);
    assert_eq!(after, Duration::from_micros(10));
    // tokio's timer fires on millisecond ticks: a 10 µs deadline fires at the first tick.
    let elapsed = t0.elapsed();
    assert!(
        elapsed >= Duration::from_micros(10) && elapsed <= ms(1),
        "{elapsed:?}"
    );
    assert_eq!(p.cancelled(), vec![0]);
}

struct Config {
    deadline: Duration,
}

#[tokio::test(start_paused = true)]
async fn duration_from_a_config_field_and_other_expressions() {
    let p = Probe::default();
    let cfg = Config { deadline: ms(320) };
    let plan = plan! { #[timeout(cfg.deadline)] sleeper(&p, 0, 3_600_000) };
    assert_cut_at(&plan, &p, ms(320)).await;

    let plan = plan! { #[timeout(Duration::from_millis(70))] sleeper(&p, 0, 3_600_000) };
    assert_cut_at(&plan, &p, ms(70)).await;

    let base = ms(40);
    let plan = plan! { #[timeout(base * 3)] sleeper(&p, 0, 3_600_000) };
    assert_cut_at(&plan, &p, ms(120)).await;
}

#[tokio::test(start_paused = true)]
async fn duration_literals_in_group_options() {
    let p = Probe::default();
    let plan =
        plan! { par(settled, timeout = 1.5s) { sleeper(&p, 0, 1_000), sleeper(&p, 1, 2_000) } };
    let t0 = Instant::now();
    let (a, b) = plan.run(3).await.unwrap();
    assert_eq!(t0.elapsed(), ms(1_500));
    assert_eq!(a.unwrap(), 3);
    assert_eq!(expect_timeout(&b.unwrap_err()).1, ms(1_500));

    let cfg = Config { deadline: ms(30) };
    let plan =
        plan! { par(all, timeout = cfg.deadline) { sleeper(&p, 2, 10), sleeper(&p, 3, 50) } };
    let t0 = Instant::now();
    assert_eq!(expect_timeout(&plan.run(3).await.unwrap_err()).1, ms(30));
    assert_eq!(t0.elapsed(), ms(30));
}

// ---------------------------------------------------------------------------------------------
// #[retry(..)]

#[tokio::test(start_paused = true)]
async fn retry_fails_twice_then_succeeds_on_the_third_attempt() {
    let a = Attempts::default();
    let plan = plan! { #[retry(3)] flaky(&a, 2, &[10]) };
    let t0 = Instant::now();
    assert_eq!(plan.run(7).await.unwrap(), 7 + 3000);
    assert_eq!(a.count(), 3);
    assert_eq!(
        a.inputs(),
        vec![7, 7, 7],
        "each attempt gets the same input"
    );
    assert_eq!(t0.elapsed(), ms(30), "no backoff unless asked for");
}

#[tokio::test(start_paused = true)]
async fn retry_stops_at_the_first_success() {
    let a = Attempts::default();
    let plan = plan! { #[retry(5)] flaky(&a, 1, &[0]) };
    assert_eq!(plan.run(0).await.unwrap(), 2000);
    assert_eq!(a.count(), 2);

    let a = Attempts::default();
    let plan = plan! { #[retry(5)] flaky(&a, 0, &[0]) };
    assert_eq!(plan.run(0).await.unwrap(), 1000);
    assert_eq!(a.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_always_failing_returns_the_last_error_after_exactly_n_attempts() {
    let a = Attempts::default();
    let tries = 3;
    let plan = plan! { (|x: u32| x) >> #[retry(tries)] flaky(&a, ALWAYS, &[5]) };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(a.count(), 3);
    assert_eq!(t0.elapsed(), ms(15));
    assert_eq!(
        err.step_error::<Fail>(),
        Some(&Fail(3)),
        "the last attempt's error"
    );
    assert_eq!(err.node().path, "1");
    assert_eq!(err.node().name, "flaky(&a, ALWAYS, &[5])");
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_waits_with_jitter_between_half_and_full() {
    let mut totals = BTreeSet::new();
    for _ in 0..20 {
        let a = Attempts::default();
        let plan = plan! { #[retry(3, backoff = 100ms)] flaky(&a, ALWAYS, &[0]) };
        let t0 = Instant::now();
        let err = plan.run(0).await.unwrap_err();
        let total = t0.elapsed();
        assert_eq!(err.step_error::<Fail>(), Some(&Fail(3)));
        assert_eq!(a.count(), 3);
        assert!(ms(150) <= total && total <= ms(300), "{total:?}");
        let at = a.at();
        let (first, second) = (at[1] - at[0], at[2] - at[1]);
        assert!(
            ms(50) <= first && first <= ms(100),
            "first backoff {first:?}"
        );
        assert!(
            ms(100) <= second && second <= ms(200),
            "second backoff {second:?}"
        );
        totals.insert(total);
    }
    assert!(
        totals.len() > 1,
        "20 runs, one total: no jitter? {totals:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_then_success() {
    let a = Attempts::default();
    let plan = plan! { #[retry(4, backoff = 1.5s)] flaky(&a, 2, &[0]) };
    let t0 = Instant::now();
    assert_eq!(plan.run(1).await.unwrap(), 3001);
    let total = t0.elapsed();
    // 0.75..=1.5 s, then 1.5..=3 s.
    assert!(ms(2_250) <= total && total <= ms(4_500), "{total:?}");
    assert_eq!(a.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_does_not_retry_a_panic() {
    let a = Attempts::default();
    let plan = plan! { #[retry(3, backoff = 10ms)] panicky(&a) };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(a.count(), 1);
    assert_eq!(t0.elapsed(), Duration::ZERO);
    match &err {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.name, "panicky(&a)");
            assert_eq!(node.path, "0");
            assert_eq!(message, "attempt 1 panicked");
        }
        other => panic!("expected Panicked, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn retry_does_not_retry_cancelled() {
    let count = Arc::new(AtomicU32::new(0));
    let seen = count.clone();
    let plan = plan! {
        #[retry(3)] (move |_x: u32| -> Result<u32, PlanError> {
            seen.fetch_add(1, SeqCst);
            Err(PlanError::Cancelled {
                node: Box::new(NodeRef {
                    name: "elsewhere",
                    kind: NodeKind::Step,
                    policy: None,
                    path: "9".to_string(),
                    location: Location { file: "x.rs", line: 1, column: 1 },
                }),
            })
        })
    };
    assert!(plan.run(0).await.unwrap_err().is_cancelled());
    assert_eq!(count.load(SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_reruns_a_whole_par_group() {
    let a = Attempts::default();
    let p = Probe::default();
    let plan = plan! { #[retry(2)] par(all) { flaky(&a, 1, &[10]), sleeper(&p, 0, 50) } };
    let t0 = Instant::now();
    let (x, y) = plan.run(4).await.unwrap();
    assert_eq!((x, y), (2004, 4));
    // Attempt 1: `flaky` fails at 10 ms and its sibling is dropped; attempt 2 takes 50 ms.
    assert_eq!(t0.elapsed(), ms(60));
    assert_eq!(a.count(), 2);
    assert_eq!(p.cancelled(), vec![0]);
    assert_eq!(p.finished(), vec![0]);
}

// ---------------------------------------------------------------------------------------------
// Attribute order: outermost first

#[tokio::test(start_paused = true)]
async fn retry_outside_timeout_is_a_per_attempt_deadline() {
    // Attempts 1 and 2 would take 150 ms, attempt 3 takes 50 ms; each would succeed.
    let a = Attempts::default();
    let plan = plan! { #[retry(3)] #[timeout(100ms)] flaky(&a, 0, &[150, 150, 50]) };
    let t0 = Instant::now();
    assert_eq!(plan.run(0).await.unwrap(), 3000);
    assert_eq!(a.count(), 3);
    assert_eq!(t0.elapsed(), ms(250));
    let at = a.at();
    assert_eq!((at[1] - at[0], at[2] - at[1]), (ms(100), ms(100)));
}

#[tokio::test(start_paused = true)]
async fn timeout_outside_retry_is_an_overall_deadline() {
    let a = Attempts::default();
    let plan = plan! { #[timeout(100ms)] #[retry(3)] flaky(&a, 0, &[150, 150, 50]) };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(a.count(), 1);
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(expect_timeout(&err).1, ms(100));
    assert_eq!(err.node().path, "0");
}

#[tokio::test(start_paused = true)]
async fn attribute_order_with_always_failing_attempts() {
    // Every attempt fails after 60 ms.
    let a = Attempts::default();
    let overall = plan! { #[timeout(100ms)] #[retry(5)] flaky(&a, ALWAYS, &[60]) };
    let t0 = Instant::now();
    let err = overall.run(0).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(
        a.count(),
        2,
        "the second attempt was cut by the overall deadline"
    );

    let a = Attempts::default();
    let per_attempt = plan! { #[retry(5)] #[timeout(100ms)] flaky(&a, ALWAYS, &[60]) };
    let t0 = Instant::now();
    let err = per_attempt.run(0).await.unwrap_err();
    assert_eq!(err.step_error::<Fail>(), Some(&Fail(5)));
    assert_eq!(t0.elapsed(), ms(300));
    assert_eq!(a.count(), 5);
}

// ---------------------------------------------------------------------------------------------
// #[name = ".."]

#[tokio::test(start_paused = true)]
async fn name_shows_in_errors() {
    let a = Attempts::default();
    let plan = plan! { (|x: u32| x) >> #[name = "fetch"] flaky(&a, ALWAYS, &[0]) };
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(err.node().name, "fetch");
    assert_eq!(err.node().path, "1");
    let text = err.to_string();
    assert!(text.starts_with("`fetch` (step at 1, "), "{text}");
    assert!(text.contains(file!()), "{text}");
    assert!(text.contains("attempt 1 failed"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn name_with_retry_and_timeout_in_any_position() {
    let p = Probe::default();
    let plan = plan! { #[retry(2)] #[name = "slow"] #[timeout(10ms)] sleeper(&p, 0, 100) };
    let t0 = Instant::now();
    let err = plan.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(20));
    let (node, after) = expect_timeout(&err);
    assert_eq!((node.name, after), ("slow", ms(10)));
    assert_eq!(p.cancelled(), vec![0, 0]);
}

#[tokio::test(start_paused = true)]
async fn name_on_a_group_names_its_group_timeout() {
    let p = Probe::default();
    let plan = plan! {
        #[name = "search"] par(all, timeout = 50ms) { sleeper(&p, 0, 10), sleeper(&p, 1, 100) }
    };
    let err = plan.run(0).await.unwrap_err();
    let (node, after) = expect_timeout(&err);
    assert_eq!(
        (node.name, node.kind, after),
        ("search", NodeKind::Par, ms(50))
    );
    assert!(err.to_string().starts_with("`search` (par at 0, "), "{err}");
}
