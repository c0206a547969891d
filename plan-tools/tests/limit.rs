//! `plan_tools::limit`: the rate limit's bound over every window (property-tested), the
//! concurrency limit held, the circuit breaker's transitions, a thousand items through a
//! rate-limited step, and the waiting time in run reports — all on tokio's paused clock,
//! where every time is exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};
use plan_runtime::prelude::*;
use plan_runtime::step;
use plan_tools::limit::{
    BreakerOpen, BreakerState, CircuitBreaker, ConcurrencyLimit, Limits, RateLimit,
};
use proptest::prelude::*;
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A paused single-threaded runtime, for property tests (one per case).
fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// A service to limit

/// The service's own error.
#[derive(Debug, thiserror::Error)]
#[error("service is down")]
struct Down;

/// A fake service: each call takes `ms`, then succeeds with its input, or fails while `down`
/// is set. It counts calls and how many run at once.
#[derive(Clone, Default)]
struct Service(Arc<State>);

#[derive(Default)]
struct State {
    ms: u64,
    down: AtomicBool,
    /// Return `PlanError::Cancelled` instead of `Down` while `down` is set.
    cancelled: AtomicBool,
    calls: AtomicU32,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Service {
    fn taking(ms: u64) -> Self {
        Service(Arc::new(State {
            ms,
            ..State::default()
        }))
    }
    fn set_down(&self, down: bool) {
        self.0.down.store(down, SeqCst);
    }
    fn calls(&self) -> u32 {
        self.0.calls.load(SeqCst)
    }
    fn max_running(&self) -> usize {
        self.0.max_running.load(SeqCst)
    }
}

impl Describe for Service {}

impl<C: Sync> Plan<u32, C> for Service {
    type Out = u32;

    async fn call(&self, input: u32, cx: Cx<'_, C>) -> Result<u32, PlanError> {
        let s = &*self.0;
        s.calls.fetch_add(1, SeqCst);
        let running = s.running.fetch_add(1, SeqCst) + 1;
        s.max_running.fetch_max(running, SeqCst);
        tokio::time::sleep(ms(s.ms)).await;
        s.running.fetch_sub(1, SeqCst);
        if !s.down.load(SeqCst) {
            Ok(input)
        } else if s.cancelled.load(SeqCst) {
            Err(PlanError::Cancelled {
                node: Box::new(NodeRef::current(&cx)),
            })
        } else {
            Err(PlanError::step(NodeRef::current(&cx), Down))
        }
    }
}

/// `service` behind `limits`, as the one step (named `svc`) of a plan.
fn limited_plan(limits: &Limits, service: &Service) -> impl Plan<u32, Out = u32> + use<> {
    plan! { #[name = "svc"] (limits.wrap(service.clone())) }
}

// ---------------------------------------------------------------------------------------------
// Rate limit

/// When each of `arrivals` (ms from the start, one call each) was admitted by `limit`, in
/// ms from the start, sorted.
fn admissions(limit: &RateLimit, arrivals: &[u64]) -> Vec<u64> {
    paused_runtime().block_on(async {
        let start = Instant::now();
        let calls = arrivals.iter().map(|&at| async move {
            tokio::time::sleep_until(start + ms(at)).await;
            let waited = limit.acquire().await;
            let admitted = start.elapsed();
            // What `acquire` says it waited is what it did wait.
            assert_eq!(waited, admitted - ms(at));
            u64::try_from(admitted.as_millis()).unwrap()
        });
        let mut times = futures::future::join_all(calls).await;
        times.sort_unstable();
        times
    })
}

/// The admission times GCRA allows, first come first served: call `k` (in arrival order) is
/// admitted at the later of its arrival and the time the quota frees a cell, `tat - tolerance`,
/// where the theoretical arrival time `tat` advances a period per admission.
fn gcra_model(period: u64, burst: u64, arrivals: &[u64]) -> Vec<u64> {
    let mut arrivals = arrivals.to_vec();
    arrivals.sort_unstable();
    let tolerance = period * (burst - 1);
    let mut tat = 0u64;
    let mut prev = 0;
    arrivals
        .into_iter()
        .map(|arrival| {
            // FIFO: never before the previous admission.
            let at = arrival.max(tat.saturating_sub(tolerance)).max(prev);
            tat = tat.max(at) + period;
            prev = at;
            at
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Over every window between two admissions, at most `rate · w + burst` calls were
    /// admitted; and no call waited longer than GCRA requires.
    #[test]
    fn admits_at_most_rate_times_window_plus_burst(
        period in 1u64..=50,
        burst in 1u64..=6,
        arrivals in prop::collection::vec(0u64..400, 1..40),
    ) {
        let limit = RateLimit::every(ms(period)).burst(u32::try_from(burst).unwrap());
        let times = admissions(&limit, &arrivals);
        for i in 0..times.len() {
            for j in i..times.len() {
                let admitted = (j - i + 1) as u64;
                let window = times[j] - times[i];
                // `admitted ≤ window / period + burst`, in integers.
                prop_assert!(
                    (admitted - burst.min(admitted)) * period <= window,
                    "{admitted} calls admitted in {window} ms: {times:?}",
                );
            }
        }
        prop_assert_eq!(times, gcra_model(period, burst, &arrivals));
    }
}

#[test]
fn rates_are_spelled_as_periods() {
    assert_eq!(RateLimit::per_second(4).period(), ms(250));
    assert_eq!(RateLimit::per_minute(120).period(), ms(500));
    let limit = RateLimit::every(ms(30)).burst(3);
    assert_eq!((limit.period(), limit.burst_size()), (ms(30), 3));
    assert_eq!(RateLimit::per_second(10).burst_size(), 1);
}

#[test]
#[should_panic(expected = "at least one call")]
fn a_rate_of_nothing_is_refused() {
    let _ = RateLimit::per_second(0);
}

/// Two runs at once, of two different plans, through clones of one limit: they share it.
#[tokio::test(start_paused = true)]
async fn one_limit_is_shared_across_runs() {
    let limits = Limits::new().rate(RateLimit::every(ms(100)));
    let service = Service::taking(0);
    let one = limited_plan(&limits, &service);
    let other = plan! { each(all) { (limits.wrap(service.clone())) } };
    let start = Instant::now();
    let (a, b) = tokio::join!(one.run(1), other.run(vec![2, 3, 4]));
    assert_eq!((a.unwrap(), b.unwrap()), (1, vec![2, 3, 4]));
    // Four calls in all, 100 ms apart.
    assert_eq!(start.elapsed(), ms(300));
    assert_eq!(service.calls(), 4);
}

/// A thousand items at once through a rate-limited step: every one succeeds, admitted as the
/// rate says — ten at once, then one every 10 ms — so the last starts at 9.9 s.
#[tokio::test(start_paused = true)]
async fn a_thousand_items_wait_and_all_succeed() {
    let limits = Limits::new().rate(RateLimit::per_second(100).burst(10));
    let service = Service::taking(5);
    let p = plan! { each(all) { #[name = "svc"] (limits.wrap(service.clone())) } };
    let items: Vec<u32> = (0..1000).collect();
    let start = Instant::now();
    let (out, report) = p.run(items.clone()).reported().await;
    assert_eq!(out.unwrap(), items);
    assert_eq!(start.elapsed(), ms(9900 + 5));
    assert_eq!(report.wall, ms(9905));
    assert_eq!(service.calls(), 1000);

    // Item k ≥ 10 (in start order) waited (k - 9) · 10 ms.
    let mut waits: Vec<Duration> = report.find_all("svc").map(|n| n.waited).collect();
    assert_eq!(waits.len(), 1000);
    waits.sort_unstable();
    let expected: Vec<Duration> = (0..1000u64).map(|k| ms(k.saturating_sub(9) * 10)).collect();
    assert_eq!(waits, expected);
    let longest = report.find_all("svc").max_by_key(|n| n.waited).unwrap();
    assert_eq!(longest.duration(), Some(ms(9900 + 5)));
}

// ---------------------------------------------------------------------------------------------
// Concurrency limit

/// A hundred calls at once through a limit of 7: never more than 7 run, 7 do, and the calls
/// go in waves of 7 (15 waves of 10 ms).
#[tokio::test(start_paused = true)]
async fn a_concurrency_limit_holds_over_a_hundred_calls() {
    let limit = ConcurrencyLimit::new(7);
    let limits = Limits::new().concurrency(limit.clone());
    let service = Service::taking(10);
    let p = plan! { each(all) { (limits.wrap(service.clone())) } };
    let items: Vec<u32> = (0..100).collect();
    let start = Instant::now();
    assert_eq!(p.run(items.clone()).await.unwrap(), items);
    assert_eq!(service.max_running(), 7);
    assert_eq!(service.calls(), 100);
    assert_eq!(start.elapsed(), ms(150));
    assert_eq!(limit.available(), 7);
}

/// A call dropped while it waits for a slot gives up its place: the next one gets the slot.
#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_gives_up_its_place() {
    let limit = ConcurrencyLimit::new(1);
    let held = limit.acquire().await;
    {
        let waiting = limit.acquire();
        let timed_out = tokio::time::timeout(ms(10), waiting).await;
        assert!(timed_out.is_err());
    }
    let start = Instant::now();
    let release = async {
        tokio::time::sleep(ms(20)).await;
        drop(held);
    };
    let (_, slot) = tokio::join!(release, limit.acquire());
    assert_eq!(slot.waited(), ms(20));
    assert_eq!(start.elapsed(), ms(20));
}

// ---------------------------------------------------------------------------------------------
// Circuit breaker

fn breaker_error(err: &PlanError) -> BreakerOpen {
    *err.step_error::<BreakerOpen>()
        .unwrap_or_else(|| panic!("not a breaker error: {err}"))
}

/// Closed until three failures in a row (a success starts the count over); then open,
/// refusing calls at once without calling the service, naming the step.
#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_the_breaker() {
    let breaker = CircuitBreaker::new(3, ms(1000));
    let service = Service::taking(10);
    let p = limited_plan(&Limits::new().breaker(breaker.clone()), &service);

    service.set_down(true);
    for _ in 0..2 {
        assert!(p.run(1).await.unwrap_err().step_error::<Down>().is_some());
    }
    service.set_down(false);
    assert_eq!(p.run(1).await.unwrap(), 1);
    service.set_down(true);
    for _ in 0..2 {
        p.run(1).await.unwrap_err();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    p.run(1).await.unwrap_err();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(service.calls(), 6);

    // Refused at once, 0 ms after it opened.
    let start = Instant::now();
    let err = p.run(1).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        breaker_error(&err),
        BreakerOpen::CoolingDown {
            remaining: ms(1000)
        }
    );
    assert_eq!(err.node().name, "svc");
    assert!(err.to_string().contains("circuit breaker is open"), "{err}");
    assert_eq!(service.calls(), 6);

    tokio::time::sleep(ms(400)).await;
    assert_eq!(
        breaker_error(&p.run(1).await.unwrap_err()),
        BreakerOpen::CoolingDown { remaining: ms(600) }
    );
}

/// After the cool-down, of five callers at once exactly one runs — the probe — and the
/// others are refused; the probe fails, and the breaker opens for a fresh cool-down; the next
/// probe succeeds and closes it.
#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_one_probe() {
    let breaker = CircuitBreaker::new(1, ms(1000));
    let service = Service::taking(50);
    let p = limited_plan(&Limits::new().breaker(breaker.clone()), &service);

    service.set_down(true);
    p.run(1).await.unwrap_err(); // opens at 50 ms
    tokio::time::sleep(ms(1000)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);

    let calls_before = service.calls();
    let results = futures::future::join_all((0..5).map(|i| p.run(i))).await;
    assert_eq!(service.calls(), calls_before + 1);
    let probing = results
        .iter()
        .filter(
            |r| matches!(r, Err(e) if e.step_error::<BreakerOpen>() == Some(&BreakerOpen::Probing)),
        )
        .count();
    let down = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.step_error::<Down>().is_some()))
        .count();
    assert_eq!((probing, down), (4, 1));

    // The probe failed at its end: a fresh cool-down from then.
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        breaker_error(&p.run(1).await.unwrap_err()),
        BreakerOpen::CoolingDown {
            remaining: ms(1000)
        }
    );

    tokio::time::sleep(ms(1000)).await;
    service.set_down(false);
    let results = futures::future::join_all((0..5).map(|i| p.run(i))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
    let results = futures::future::join_all((0..5).map(|i| p.run(i))).await;
    assert!(results.iter().all(Result::is_ok));
}

/// A probe dropped before it ended proves nothing: the next call is the probe, at once.
#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_makes_way_for_the_next() {
    let breaker = CircuitBreaker::new(1, ms(100));
    let service = Service::taking(50);
    let p = limited_plan(&Limits::new().breaker(breaker.clone()), &service);
    service.set_down(true);
    p.run(1).await.unwrap_err();
    tokio::time::sleep(ms(100)).await;

    let cut = tokio::time::timeout(ms(10), p.run(1)).await;
    assert!(cut.is_err());
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    service.set_down(false);
    assert_eq!(p.run(7).await.unwrap(), 7);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

/// `PlanError::Cancelled` from the step is not the service failing.
#[tokio::test(start_paused = true)]
async fn cancellations_are_not_failures() {
    let breaker = CircuitBreaker::new(2, ms(100));
    let service = Service::taking(1);
    service.0.cancelled.store(true, SeqCst);
    service.set_down(true);
    let p = limited_plan(&Limits::new().breaker(breaker.clone()), &service);
    for _ in 0..5 {
        assert!(p.run(1).await.unwrap_err().is_cancelled());
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(service.calls(), 5);
}

/// A call that waited for the rate limit while the breaker opened is refused when its turn
/// comes, without calling the service.
#[tokio::test(start_paused = true)]
async fn a_call_is_refused_if_the_breaker_opened_while_it_waited() {
    let breaker = CircuitBreaker::new(1, ms(1000));
    let service = Service::taking(10);
    let limits = Limits::new()
        .rate(RateLimit::every(ms(100)))
        .breaker(breaker.clone());
    let p = plan! { each(all) { (limits.wrap(service.clone())) } };
    service.set_down(true);
    let err = p.run(vec![1, 2]).await.unwrap_err();
    // The first call fails at 10 ms; the second, admitted at 100 ms, is refused.
    assert!(err.step_error::<Down>().is_some());
    assert_eq!(service.calls(), 1);
    let refused = breaker.admit().unwrap_err();
    assert!(matches!(refused, BreakerOpen::CoolingDown { .. }));
}

// ---------------------------------------------------------------------------------------------
// Plans and reports

/// A limited step describes itself as the plan inside: the graph is the same.
#[test]
fn limits_leave_the_graph_unchanged() {
    fn inc(x: u32) -> u32 {
        x + 1
    }
    let limits = Limits::new().rate(RateLimit::per_second(5));
    let inner = plan! { inc >> inc };
    let plain = plan! { inc >> #[name = "inner"] (inner.clone()) };
    let limited = plan! { inc >> #[name = "inner"] (limits.wrap(inner.clone())) };
    let shape = |p: &dyn Fn() -> plan_core::PlanGraph| {
        let g = p();
        let nodes: Vec<_> = g
            .nodes
            .iter()
            .map(|n| (n.kind, n.name, n.path.clone()))
            .collect();
        (nodes, serde_json::to_string(&g.edges).unwrap())
    };
    assert_eq!(shape(&|| plain.graph()), shape(&|| limited.graph()));
    // The plan, `inc`, the step, and inside it the nested plan with its two `inc`s.
    assert_eq!(plain.graph().nodes.len(), 6);
}

/// A plain function, made a plan with `step!`, behind limits inside `plan!`.
#[tokio::test(start_paused = true)]
async fn a_function_step_can_be_limited() {
    async fn double(x: u32) -> Result<u32, std::io::Error> {
        Ok(x * 2)
    }
    let limits = Limits::new().rate(RateLimit::every(ms(10)));
    let p = plan! { each(all) { (limits.wrap(step!(double))) } };
    let start = Instant::now();
    assert_eq!(p.run(vec![1, 2, 3]).await.unwrap(), vec![2, 4, 6]);
    assert_eq!(start.elapsed(), ms(20));
}

/// The run report gives each limited step instance the time it waited — for the rate limit
/// and for a slot, summed — in its record, its JSON (`waited_us`, absent when zero) and its
/// timeline line.
#[tokio::test(start_paused = true)]
async fn the_report_shows_the_waiting_time() {
    let limits = Limits::new()
        .concurrency(ConcurrencyLimit::new(1))
        .rate(RateLimit::every(ms(100)).burst(2));
    let service = Service::taking(30);
    let p = plan! {
        #![name = "demo"]
        par(all) { #[name = "a"] (limits.wrap(service.clone())), #[name = "b"] (limits.wrap(service.clone())), #[name = "c"] (limits.wrap(service.clone())) }
    };
    let (out, report) = p.run(1).reported().await;
    assert_eq!(out.unwrap(), (1, 1, 1));
    // a runs at 0; b waits 30 ms for the slot and starts at once (the burst); c waits 60 ms
    // for the slot, then 40 ms for the rate (its cell is free at 100 ms).
    let waited = |name| report.find(name).unwrap().waited;
    assert_eq!(
        (waited("a"), waited("b"), waited("c")),
        (ms(0), ms(30), ms(100))
    );
    assert_eq!(report.find("c").unwrap().duration(), Some(ms(130)));
    assert_eq!(report.wall, ms(130));

    let json = serde_json::to_value(&report).unwrap();
    let record = |name: &str| {
        json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    assert!(record("a").get("waited_us").is_none());
    assert_eq!(record("b")["waited_us"], 30_000);
    assert_eq!(record("c")["waited_us"], 100_000);

    let timeline = report.timeline().width(13).to_string();
    let line = |name: &str| {
        timeline
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap()
            .to_owned()
    };
    assert!(line("a ").ends_with(" ok"), "{timeline}");
    assert!(line("b ").ends_with(" ok, waited 30 ms"), "{timeline}");
    assert!(line("c ").ends_with(" ok, waited 100 ms"), "{timeline}");
}

/// Without a monitor, a limited step just waits: nothing to report to.
#[tokio::test(start_paused = true)]
async fn an_unreported_run_just_waits() {
    let limits = Limits::new().rate(RateLimit::every(ms(50)));
    let service = Service::taking(0);
    let p = plan! { each(all) { (limits.wrap(service.clone())) } };
    let start = Instant::now();
    assert_eq!(p.run(vec![1, 2, 3]).await.unwrap(), vec![1, 2, 3]);
    assert_eq!(start.elapsed(), ms(100));
}
