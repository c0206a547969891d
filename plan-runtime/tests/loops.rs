//! `loop(while = p | until = p, max = n[, on_limit = stop]) { body }`.

use std::sync::{Arc, Mutex};

use plan_runtime::NodeKind;
use plan_runtime::prelude::*;
use tokio::time::Instant;

#[derive(Clone, Debug, Default, PartialEq)]
struct Counter {
    n: u32,
}

/// What happened, in order: condition checks and passes of the body.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }

    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn passes(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| e.starts_with("pass"))
            .count()
    }
}

/// `n < limit`, logging each check.
fn below(limit: u32, log: Log) -> impl Fn(&Counter) -> bool + Send + Sync {
    move |c| {
        let holds = c.n < limit;
        log.push(format!("check {} -> {holds}", c.n));
        holds
    }
}

/// `n >= limit`, logging each check.
fn at_least(limit: u32, log: Log) -> impl Fn(&Counter) -> bool + Send + Sync {
    move |c| {
        let holds = c.n >= limit;
        log.push(format!("check {} -> {holds}", c.n));
        holds
    }
}

/// One pass: logs it and counts up.
fn pass(log: Log) -> impl Fn(Counter) -> Counter + Send + Sync {
    move |c| {
        log.push(format!("pass {}", c.n));
        Counter { n: c.n + 1 }
    }
}

fn start(n: u32) -> Counter {
    Counter { n }
}

fn fail_on_two(c: Counter) -> Result<Counter, String> {
    if c.n == 2 {
        Err("reached two".into())
    } else {
        Ok(c)
    }
}

fn never(_: &Counter) -> bool {
    false
}

fn always(_: &Counter) -> bool {
    true
}

fn inc(c: Counter) -> Counter {
    Counter { n: c.n + 1 }
}

async fn tick(c: Counter) -> Counter {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Counter { n: c.n + 1 }
}

fn expect_limit(err: &PlanError) -> u32 {
    match err {
        PlanError::LoopLimit { max, .. } => *max,
        other => panic!("expected LoopLimit, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// while

#[tokio::test]
async fn while_checks_before_each_pass() {
    let log = Log::default();
    let p = plan! { loop(while = below(3, log.clone()), max = 5) { pass(log.clone()) } };
    assert_eq!(p.run(Counter { n: 0 }).await.unwrap(), Counter { n: 3 });
    assert_eq!(
        log.events(),
        [
            "check 0 -> true",
            "pass 0",
            "check 1 -> true",
            "pass 1",
            "check 2 -> true",
            "pass 2",
            "check 3 -> false",
        ]
    );
}

#[tokio::test]
async fn while_false_at_the_start_makes_no_pass() {
    let log = Log::default();
    let p = plan! { loop(while = below(3, log.clone()), max = 5) { pass(log.clone()) } };
    assert_eq!(p.run(Counter { n: 10 }).await.unwrap(), Counter { n: 10 });
    assert_eq!(log.events(), ["check 10 -> false"]);
    assert_eq!(log.passes(), 0);
}

#[tokio::test]
async fn while_that_becomes_false_on_the_last_allowed_pass_is_not_a_limit() {
    let log = Log::default();
    let p = plan! { loop(while = below(3, log.clone()), max = 3) { pass(log.clone()) } };
    assert_eq!(p.run(Counter { n: 0 }).await.unwrap(), Counter { n: 3 });
    assert_eq!(log.passes(), 3);
}

// ---------------------------------------------------------------------------------------------
// until

#[tokio::test]
async fn until_checks_after_each_pass() {
    let log = Log::default();
    let p = plan! { loop(until = at_least(3, log.clone()), max = 5) { pass(log.clone()) } };
    assert_eq!(p.run(Counter { n: 0 }).await.unwrap(), Counter { n: 3 });
    assert_eq!(
        log.events(),
        [
            "pass 0",
            "check 1 -> false",
            "pass 1",
            "check 2 -> false",
            "pass 2",
            "check 3 -> true",
        ]
    );
}

#[tokio::test]
async fn until_true_at_the_start_still_makes_one_pass() {
    let log = Log::default();
    let p = plan! { loop(until = at_least(3, log.clone()), max = 5) { pass(log.clone()) } };
    assert_eq!(p.run(Counter { n: 10 }).await.unwrap(), Counter { n: 11 });
    assert_eq!(log.events(), ["pass 10", "check 11 -> true"]);

    let p = plan! { loop(until = always, max = 5) { inc } };
    assert_eq!(p.run(Counter { n: 0 }).await.unwrap(), Counter { n: 1 });
}

#[tokio::test]
async fn until_met_on_the_last_allowed_pass_is_not_a_limit() {
    let log = Log::default();
    let p = plan! { loop(until = at_least(3, log.clone()), max = 3) { pass(log.clone()) } };
    assert_eq!(p.run(Counter { n: 0 }).await.unwrap(), Counter { n: 3 });
    assert_eq!(log.passes(), 3);
}

// ---------------------------------------------------------------------------------------------
// Running out of passes.

#[tokio::test]
async fn running_out_of_passes_is_loop_limit_naming_the_loop() {
    let log = Log::default();
    let p = plan! { start >> loop(while = below(100, log.clone()), max = 3) { pass(log.clone()) } };
    let err = p.run(0).await.unwrap_err();
    assert_eq!(expect_limit(&err), 3);
    assert_eq!(err.node().name, "loop");
    assert_eq!(err.node().kind, NodeKind::Loop);
    assert_eq!(err.node().path, "1");
    assert_eq!(log.passes(), 3, "exactly max passes were made");
    assert!(err.to_string().contains("limit of 3"), "{err}");

    let log = Log::default();
    let p = plan! {
        start >> inc >> #[name = "refine"] loop(until = at_least(100, log.clone()), max = 4) { pass(log.clone()) }
    };
    let err = p.run(0).await.unwrap_err();
    assert_eq!(expect_limit(&err), 4);
    assert_eq!(err.node().name, "refine");
    assert_eq!(err.node().kind, NodeKind::Loop);
    assert_eq!(err.node().path, "2");
    assert_eq!(log.passes(), 4);
}

#[tokio::test]
async fn max_may_be_any_expression() {
    let max = 2 + 2;
    let p = plan! { loop(until = never, max = max, on_limit = stop) { inc } };
    assert_eq!(p.run(Counter { n: 0 }).await.unwrap(), Counter { n: 4 });
    let p = plan! { loop(until = never, max = max) { inc } };
    assert_eq!(expect_limit(&p.run(Counter { n: 0 }).await.unwrap_err()), 4);
}

#[tokio::test]
async fn on_limit_stop_returns_the_last_state() {
    let log = Log::default();
    let p = plan! {
        loop(while = below(100, log.clone()), max = 3, on_limit = stop) { pass(log.clone()) }
    };
    assert_eq!(p.run(Counter { n: 5 }).await.unwrap(), Counter { n: 8 });
    assert_eq!(log.passes(), 3);

    let log = Log::default();
    let p = plan! {
        loop(until = at_least(100, log.clone()), max = 2, on_limit = stop) { pass(log.clone()) }
    };
    assert_eq!(p.run(Counter { n: 5 }).await.unwrap(), Counter { n: 7 });
    assert_eq!(
        log.events(),
        ["pass 5", "check 6 -> false", "pass 6", "check 7 -> false"]
    );
}

// ---------------------------------------------------------------------------------------------
// Errors in the body.

#[tokio::test]
async fn body_errors_propagate_and_stop_the_loop() {
    let log = Log::default();
    let p = plan! {
        start >> loop(while = below(10, log.clone()), max = 10) { pass(log.clone()) >> fail_on_two }
    };
    let err = p.run(0).await.unwrap_err();
    match &err {
        PlanError::Step { node, .. } => {
            assert_eq!(node.name, "fail_on_two");
            assert_eq!(node.path, "1/1");
        }
        other => panic!("expected the body's Step error, got {other:?}"),
    }
    assert!(err.to_string().contains("reached two"), "{err}");
    assert_eq!(
        log.events(),
        ["check 0 -> true", "pass 0", "check 1 -> true", "pass 1"]
    );
}

#[tokio::test]
async fn an_inner_loop_limit_propagates_through_the_outer_loop() {
    let p = plan! {
        loop(until = never, max = 5) { inc >> loop(while = always, max = 2) { inc } }
    };
    let err = p.run(Counter { n: 0 }).await.unwrap_err();
    assert_eq!(expect_limit(&err), 2);
    assert_eq!(err.node().path, "0/1");
    assert_eq!(err.node().kind, NodeKind::Loop);
}

// ---------------------------------------------------------------------------------------------
// Passes run one after another; a deadline on the loop cuts it.

#[tokio::test(start_paused = true)]
async fn passes_run_in_sequence() {
    let p = plan! { loop(until = |c: &Counter| c.n >= 5, max = 10) { tick } };
    let t0 = Instant::now();
    assert_eq!(p.run(Counter { n: 0 }).await.unwrap(), Counter { n: 5 });
    assert_eq!(t0.elapsed(), Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_on_a_loop_times_it_out() {
    let p = plan! { #[timeout(35ms)] loop(until = never, max = 10) { tick } };
    let t0 = Instant::now();
    let err = p.run(Counter { n: 0 }).await.unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_millis(35));
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.node().kind, NodeKind::Loop);
    assert_eq!(err.node().path, "0");
}

fn explodes(c: &Counter) -> bool {
    panic!("condition exploded at {}", c.n)
}

fn explodes_at_two(c: &Counter) -> bool {
    assert!(c.n < 2, "condition exploded at {}", c.n);
    false
}

/// The loop a panic is blamed on: its path and label, and the panic's message.
fn assert_blamed_on(err: &PlanError, path: &str, label: &str, message: &str) {
    match err {
        PlanError::Panicked { node, message: got } => {
            assert_eq!((node.kind, &*node.path), (NodeKind::Loop, path), "{err}");
            assert_eq!(node.label().to_string(), label, "{err}");
            assert_eq!(got, message, "{err}");
        }
        other => panic!("expected Panicked, got {other}"),
    }
}

/// A loop's condition is the loop's own code: its panic names the loop, before the first pass
/// (`while`) or after a later one (`until`).
#[tokio::test]
async fn a_panicking_condition_is_blamed_on_its_loop() {
    let line = line!() + 1;
    let plan = plan! { start >> loop(while = explodes, max = 3) { inc } };
    let err = plan.run(0).await.unwrap_err();
    let label = format!("loop at loops.rs:{line}");
    assert_blamed_on(&err, "1", &label, "condition exploded at 0");

    let plan = plan! { start >> #[name = "refine"] loop(until = explodes_at_two, max = 5) { inc } };
    let err = plan.run(0).await.unwrap_err();
    assert_blamed_on(&err, "1", "refine", "condition exploded at 2");
    assert!(
        err.to_string().starts_with("`refine` (loop at 1, "),
        "{err}"
    );
}
