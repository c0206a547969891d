//! `choose { if p => a, .., else => z }` and `choose(router) { Pat => a, .. }`: the right arm
//! runs, and only it, proven with per-arm run counters (and, for async arms, the paused clock).

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

mod common;

use common::*;

use plan_runtime::NodeKind;
use plan_runtime::prelude::*;
use tokio::time::Instant;

/// Counts how often each arm (and each predicate) ran.
#[derive(Clone, Default)]
struct Counters(Arc<[AtomicUsize; 8]>);

impl Counters {
    fn hit(&self, arm: usize) {
        self.0[arm].fetch_add(1, SeqCst);
    }
    fn get(&self) -> Vec<usize> {
        self.0.iter().map(|c| c.load(SeqCst)).collect()
    }
    fn reset(&self) {
        for c in self.0.iter() {
            c.store(0, SeqCst);
        }
    }
}

/// Arm `arm`: counts the run, then tags the input with the arm's name.
fn arm(
    counters: &Counters,
    arm: usize,
    tag: &'static str,
) -> impl Fn(u32) -> (&'static str, u32) + Send + Sync {
    let counters = counters.clone();
    move |x: u32| {
        counters.hit(arm);
        (tag, x)
    }
}

/// An async arm that sleeps `sleep_ms` before tagging the input.
fn slow_arm(
    counters: &Counters,
    arm: usize,
    tag: &'static str,
    sleep_ms: u64,
) -> impl Fn(u32) -> BoxFut<(&'static str, u32)> + Send + Sync {
    let counters = counters.clone();
    move |x: u32| {
        let counters = counters.clone();
        Box::pin(async move {
            tokio::time::sleep(ms(sleep_ms)).await;
            counters.hit(arm);
            (tag, x)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// choose { if .. else .. }

fn is_small(x: &u32) -> bool {
    *x < 10
}

fn is_even(x: &u32) -> bool {
    x.is_multiple_of(2)
}

#[tokio::test]
async fn if_arms_first_true_wins_else_otherwise_only_the_chosen_arm_runs() {
    let c = Counters::default();
    let plan = plan! {
        choose {
            if is_small => arm(&c, 0, "small"),
            if is_even => arm(&c, 1, "even"),
            else => arm(&c, 2, "other")
        }
    };
    // Both predicates hold: the first arm wins.
    assert_eq!(plan.run(4).await.unwrap(), ("small", 4));
    assert_eq!(c.get()[..3], [1, 0, 0]);
    // Only the second holds.
    assert_eq!(plan.run(12).await.unwrap(), ("even", 12));
    assert_eq!(c.get()[..3], [1, 1, 0]);
    // Neither holds: else.
    assert_eq!(plan.run(13).await.unwrap(), ("other", 13));
    assert_eq!(c.get()[..3], [1, 1, 1]);
    // Only the first holds (odd and small).
    assert_eq!(plan.run(7).await.unwrap(), ("small", 7));
    assert_eq!(c.get()[..3], [2, 1, 1]);
}

#[tokio::test]
async fn if_predicates_are_checked_in_order_and_stop_at_the_first_true_one() {
    let c = Counters::default();
    let (c0, c1) = (c.clone(), c.clone());
    let plan = plan! {
        choose {
            if move |x: &u32| { c0.hit(4); *x > 100 } => arm(&c, 0, "big"),
            if move |x: &u32| { c1.hit(5); *x > 10 } => arm(&c, 1, "medium"),
            else => arm(&c, 2, "small")
        }
    };
    assert_eq!(plan.run(500).await.unwrap().0, "big");
    assert_eq!(
        c.get()[..6],
        [1, 0, 0, 0, 1, 0],
        "second predicate not evaluated"
    );
    c.reset();
    assert_eq!(plan.run(50).await.unwrap().0, "medium");
    assert_eq!(c.get()[..6], [0, 1, 0, 0, 1, 1]);
    c.reset();
    assert_eq!(plan.run(5).await.unwrap().0, "small");
    assert_eq!(c.get()[..6], [0, 0, 1, 0, 1, 1]);
}

#[tokio::test]
async fn else_only() {
    let c = Counters::default();
    let plan = plan! { choose { else => arm(&c, 0, "only") } };
    assert_eq!(plan.run(1).await.unwrap(), ("only", 1));
    assert_eq!(c.get()[0], 1);
}

#[tokio::test(start_paused = true)]
async fn async_and_multi_step_arms_in_a_chain() {
    let c = Counters::default();
    let plan = plan! {
        (|x: u32| x * 2)
        >> choose {
            if is_small => slow_arm(&c, 0, "small", 100),
            else => (|x: u32| x + 1) >> slow_arm(&c, 1, "big", 300)
        }
        >> (|(tag, x): (&'static str, u32)| format!("{tag}:{x}"))
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(3).await.unwrap(), "small:6");
    assert_eq!(t0.elapsed(), ms(100), "only the chosen arm ran");
    assert_eq!(c.get()[..2], [1, 0]);

    let t0 = Instant::now();
    assert_eq!(plan.run(30).await.unwrap(), "big:61");
    assert_eq!(t0.elapsed(), ms(300));
    assert_eq!(c.get()[..2], [1, 1]);
}

#[derive(Debug)]
struct Rejected(u32);

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected {}", self.0)
    }
}

impl Error for Rejected {}

fn reject(x: u32) -> Result<u32, Rejected> {
    Err(Rejected(x))
}

#[tokio::test]
async fn an_error_in_an_arm_names_the_arm_node() {
    let c = Counters::default();
    let plan = plan! {
        (|x: u32| x)
        >> choose {
            if is_small => (|x: u32| Ok::<u32, Rejected>(x)),
            if is_even => (|x: u32| x) >> reject,
            else => reject
        }
    };
    assert_eq!(plan.run(3).await.unwrap(), 3);
    let err = plan.run(20).await.unwrap_err();
    assert_eq!(err.step_error::<Rejected>().unwrap().0, 20);
    assert_eq!(err.node().path, "1/1/1");
    assert_eq!(err.node().name, "reject");
    let err = plan.run(21).await.unwrap_err();
    assert_eq!(err.step_error::<Rejected>().unwrap().0, 21);
    assert_eq!(err.node().path, "1/2");
    assert_eq!(err.node().kind, NodeKind::Step);
    assert_eq!(c.get()[0], 0);
}

// ---------------------------------------------------------------------------------------------
// choose(router) { Pat => .. }

#[derive(Debug, Clone, Copy, PartialEq)]
enum Route {
    Search,
    Fetch(u32),
    Compute { cost: u32 },
    Chat,
    Ignore,
}

fn classify(x: &u32) -> Route {
    match *x {
        0 => Route::Ignore,
        1..=9 => Route::Search,
        10..=99 => Route::Fetch(*x),
        100..=999 => Route::Compute { cost: *x / 100 },
        _ => Route::Chat,
    }
}

#[tokio::test]
async fn router_patterns_or_patterns_guards_and_wildcard() {
    let c = Counters::default();
    let plan = plan! {
        choose(classify) {
            Route::Search => arm(&c, 0, "search"),
            Route::Fetch(n) if n > 50 => arm(&c, 1, "fetch-far"),
            Route::Fetch(_) | Route::Compute { cost: 1 } => arm(&c, 2, "near-or-cheap"),
            Route::Compute { cost } if cost >= 5 => arm(&c, 3, "expensive"),
            _ => arm(&c, 4, "rest")
        }
    };
    let cases = [
        (5, "search", [1, 0, 0, 0, 0]),
        (70, "fetch-far", [1, 1, 0, 0, 0]),
        (20, "near-or-cheap", [1, 1, 1, 0, 0]),
        (150, "near-or-cheap", [1, 1, 2, 0, 0]),
        (700, "expensive", [1, 1, 2, 1, 0]),
        (300, "rest", [1, 1, 2, 1, 1]),
        (5000, "rest", [1, 1, 2, 1, 2]),
        (0, "rest", [1, 1, 2, 1, 3]),
    ];
    for (input, tag, counts) in cases {
        assert_eq!(
            plan.run(input).await.unwrap(),
            (tag, input),
            "input {input}"
        );
        assert_eq!(
            c.get()[..5],
            counts,
            "input {input}: only the chosen arm runs"
        );
    }
}

#[tokio::test]
async fn router_first_matching_arm_wins() {
    let c = Counters::default();
    let plan = plan! {
        choose(classify) {
            Route::Fetch(n) if n % 2 == 0 => arm(&c, 0, "even fetch"),
            Route::Fetch(_) => arm(&c, 1, "fetch"),
            Route::Search | Route::Compute { .. } | Route::Chat | Route::Ignore => arm(&c, 2, "rest")
        }
    };
    assert_eq!(plan.run(42).await.unwrap().0, "even fetch");
    assert_eq!(plan.run(43).await.unwrap().0, "fetch");
    assert_eq!(plan.run(1).await.unwrap().0, "rest");
    assert_eq!(c.get()[..3], [1, 1, 1]);
}

#[tokio::test(start_paused = true)]
async fn router_closure_and_async_arms_only_the_chosen_one_runs() {
    let c = Counters::default();
    let plan = plan! {
        choose(|x: &u32| *x > 10) {
            true => slow_arm(&c, 0, "big", 250),
            false => slow_arm(&c, 1, "small", 50) >> (|(t, x): (&'static str, u32)| (t, x * 2))
        }
    };
    let t0 = Instant::now();
    assert_eq!(plan.run(11).await.unwrap(), ("big", 11));
    assert_eq!(t0.elapsed(), ms(250));
    let t0 = Instant::now();
    assert_eq!(plan.run(4).await.unwrap(), ("small", 8));
    assert_eq!(t0.elapsed(), ms(50));
    assert_eq!(c.get()[..2], [1, 1]);
}

#[tokio::test]
async fn router_over_a_string_input_with_str_patterns() {
    // A router takes `&Input`, here `&String`.
    #[allow(clippy::ptr_arg)]
    fn kind(s: &String) -> &'static str {
        if s.starts_with('/') {
            "command"
        } else if s.ends_with('?') {
            "question"
        } else {
            "statement"
        }
    }
    let plan = plan! {
        choose(kind) {
            "command" => (|s: String| format!("run {}", &s[1..])),
            "question" => (|s: String| format!("answer {s}")),
            _ => (|s: String| s)
        }
        >> (|s: String| s.len())
    };
    assert_eq!(plan.run("/ls".to_string()).await.unwrap(), "run ls".len());
    assert_eq!(
        plan.run("why?".to_string()).await.unwrap(),
        "answer why?".len()
    );
    assert_eq!(plan.run("ok".to_string()).await.unwrap(), 2);
}

#[tokio::test]
async fn router_arm_error_names_the_arm_path() {
    let plan = plan! {
        choose(classify) {
            Route::Search => (|x: u32| Ok::<u32, Rejected>(x)),
            Route::Fetch(_) => reject,
            _ => (|x: u32| x) >> reject
        }
    };
    assert_eq!(plan.run(3).await.unwrap(), 3);
    let err = plan.run(30).await.unwrap_err();
    assert_eq!(err.node().path, "0/1");
    assert_eq!(err.step_error::<Rejected>().unwrap().0, 30);
    let err = plan.run(3000).await.unwrap_err();
    assert_eq!(err.node().path, "0/2/1");
}

// ---------------------------------------------------------------------------------------------
// Panics in a predicate or a router

fn explodes(x: &u32) -> bool {
    panic!("predicate exploded on {x}")
}

fn never(_: &u32) -> bool {
    false
}

fn routes_nowhere(x: &u32) -> Route {
    panic!("router exploded on {x}")
}

/// The `choose` a panic is blamed on: its kind, path and label, and the panic's message.
fn assert_blamed_on(err: &PlanError, path: &str, label: &str, message: &str) {
    match err {
        PlanError::Panicked { node, message: got } => {
            assert_eq!((node.kind, &*node.path), (NodeKind::Choose, path), "{err}");
            assert_eq!(node.label().to_string(), label, "{err}");
            assert_eq!(got, message, "{err}");
        }
        other => panic!("expected Panicked, got {other}"),
    }
}

/// A predicate is the `choose`'s own code: its panic names the `choose`, wherever it is caught
/// (here by the plan), not the whole plan.
#[tokio::test]
async fn a_panicking_predicate_is_blamed_on_its_choose() {
    let line = line!() + 2;
    let plan =
        plan! { (|x: u32| x) >> choose { if explodes => (|x: u32| x), else => (|x: u32| x + 1) } };
    let err = plan.run(7).await.unwrap_err();
    let label = format!("choose at choose.rs:{line}");
    assert_blamed_on(&err, "1", &label, "predicate exploded on 7");
    assert!(
        err.to_string()
            .starts_with(&format!("`choose` (choose at 1, {}:{line}:", file!())),
        "{err}"
    );

    // A later arm's predicate, in a named `choose` that is a `par` branch: the branch's panic
    // boundary catches it, and names the `choose` by its name and full path.
    let plan = plan! {
        par(all) {
            (|x: u32| x),
            #[name = "triage"] choose { if never => (|x: u32| x), if explodes => (|x: u32| x), else => (|x: u32| x) }
        }
    };
    let err = plan.run(8).await.unwrap_err();
    assert_blamed_on(&err, "0/1", "triage", "predicate exploded on 8");
}

#[tokio::test]
async fn a_panicking_router_is_blamed_on_its_choose() {
    let line = line!() + 2;
    let plan =
        plan! { choose(routes_nowhere) { Route::Search => (|x: u32| x), _ => (|x: u32| x) } };
    let err = plan.run(3).await.unwrap_err();
    let label = format!("choose at choose.rs:{line}");
    assert_blamed_on(&err, "0", &label, "router exploded on 3");
}

/// A panic in an arm's step is still the step's: the innermost node it unwound through.
#[tokio::test]
async fn a_panicking_arm_is_blamed_on_its_step() {
    let plan = plan! {
        choose { if is_small => (|x: u32| -> u32 { panic!("arm exploded on {x}") }), else => (|x: u32| x) }
    };
    match plan.run(1).await.unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!((node.kind, &*node.path), (NodeKind::Step, "0/0"));
            assert_eq!(message, "arm exploded on 1");
        }
        other => panic!("expected Panicked, got {other}"),
    }
}
