//! Every form a step can take inside `plan!` compiles as written and runs.

use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::ThreadId;

use plan_runtime::prelude::*;
use plan_runtime::{Cx, Location, NodeKind, NodeRef};

// ---------------------------------------------------------------------------------------------
// Steps used below.

fn add_one(x: u32) -> u32 {
    x + 1
}

async fn double(x: u32) -> u32 {
    tokio::task::yield_now().await;
    x * 2
}

/// A std error carrying the offending value, so the downcast can be checked by value.
#[derive(Debug, PartialEq, Eq)]
struct Odd(u32);

impl fmt::Display for Odd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is odd", self.0)
    }
}

impl StdError for Odd {}

fn even_only(x: u32) -> Result<u32, Odd> {
    if x.is_multiple_of(2) {
        Ok(x)
    } else {
        Err(Odd(x))
    }
}

async fn even_only_async(x: u32) -> Result<u32, Odd> {
    tokio::task::yield_now().await;
    if x.is_multiple_of(2) {
        Ok(x)
    } else {
        Err(Odd(x))
    }
}

fn even_only_boxed(x: u32) -> Result<u32, Box<dyn StdError + Send + Sync>> {
    if x.is_multiple_of(2) {
        Ok(x)
    } else {
        Err(Box::new(Odd(x)))
    }
}

fn small_only(x: u32) -> Result<u32, String> {
    if x < 10 {
        Ok(x)
    } else {
        Err(format!("{x} is too big"))
    }
}

async fn small_only_async(x: u32) -> Result<u32, String> {
    tokio::task::yield_now().await;
    small_only(x)
}

/// The node a `Result<_, PlanError>` step reports as its own; it must come out unchanged.
fn upstream_node() -> NodeRef {
    NodeRef {
        name: "upstream",
        kind: NodeKind::Loop,
        policy: None,
        path: "9/8".to_owned(),
        location: Location {
            file: "elsewhere.rs",
            line: 77,
            column: 5,
        },
    }
}

fn passthrough(x: u32) -> Result<u32, PlanError> {
    if x == 0 {
        Err(PlanError::LoopLimit {
            node: upstream_node().into(),
            max: 42,
        })
    } else {
        Ok(x)
    }
}

async fn passthrough_async(x: u32) -> Result<u32, PlanError> {
    tokio::task::yield_now().await;
    if x == 0 {
        Err(PlanError::timeout(
            upstream_node(),
            Duration::from_millis(1234),
        ))
    } else {
        Ok(x)
    }
}

/// A shared run context.
struct Config {
    offset: u32,
    reads: AtomicUsize,
}

impl Config {
    fn new(offset: u32) -> Self {
        Config {
            offset,
            reads: AtomicUsize::new(0),
        }
    }
}

fn add_offset(x: u32, cfg: &Config) -> u32 {
    cfg.reads.fetch_add(1, Ordering::SeqCst);
    x + cfg.offset
}

/// The future borrows the context across an await.
async fn add_offset_async(x: u32, cfg: &Config) -> u32 {
    tokio::task::yield_now().await;
    cfg.reads.fetch_add(1, Ordering::SeqCst);
    x + cfg.offset
}

fn checked_offset(x: u32, cfg: &Config) -> Result<u32, Odd> {
    cfg.reads.fetch_add(1, Ordering::SeqCst);
    even_only(x + cfg.offset)
}

async fn checked_offset_async(x: u32, cfg: &Config) -> Result<u32, Odd> {
    tokio::task::yield_now().await;
    cfg.reads.fetch_add(1, Ordering::SeqCst);
    even_only(x + cfg.offset)
}

fn which_thread(x: u32) -> (u32, ThreadId) {
    (x, std::thread::current().id())
}

/// A call-expression step: counts how often it is *made* and how often the step it makes runs.
fn make_step(
    n: u32,
    made: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
) -> impl Fn(u32) -> u32 + Send + Sync {
    made.fetch_add(1, Ordering::SeqCst);
    move |x| {
        calls.fetch_add(1, Ordering::SeqCst);
        x + n
    }
}

/// A step with its own state, implementing `Plan` by hand.
struct Multiply {
    by: u32,
    seen: Arc<Mutex<Vec<(&'static str, NodeKind)>>>,
}

impl Describe for Multiply {}

impl<C: Sync> Plan<u32, C> for Multiply {
    type Out = u32;

    async fn call(&self, input: u32, cx: Cx<'_, C>) -> Result<u32, PlanError> {
        self.seen
            .lock()
            .unwrap()
            .push((cx.node().name, cx.node().kind));
        if input == 0 {
            return Err(PlanError::step(NodeRef::current(&cx), Odd(0)));
        }
        Ok(input * self.by)
    }
}

fn expect_step_error(err: &PlanError) -> &NodeRef {
    match err {
        PlanError::Step { node, .. } => node,
        other => panic!("expected PlanError::Step, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Plain and async functions.

#[tokio::test]
async fn sync_fn_step() {
    let p = plan! { add_one };
    assert_eq!(p.run(1).await.unwrap(), 2);
    let p = plan! { add_one >> add_one >> add_one };
    assert_eq!(p.run(10).await.unwrap(), 13);
}

#[tokio::test]
async fn async_fn_step() {
    let p = plan! { double };
    assert_eq!(p.run(21).await.unwrap(), 42);
    let p = plan! { add_one >> double >> add_one };
    assert_eq!(p.run(1).await.unwrap(), 5);
}

// ---------------------------------------------------------------------------------------------
// Fallible steps.

#[tokio::test]
async fn fallible_sync_step_with_std_error() {
    let p = plan! { add_one >> even_only >> add_one };
    assert_eq!(p.run(1).await.unwrap(), 3);

    let err = p.run(2).await.unwrap_err();
    let node = expect_step_error(&err);
    assert_eq!(node.name, "even_only");
    assert_eq!(node.kind, NodeKind::Step);
    assert_eq!(node.path, "1");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(3)));
    assert!(err.step_error::<std::fmt::Error>().is_none());
    assert_eq!(
        err.source().map(ToString::to_string),
        Some("3 is odd".to_owned())
    );
}

#[tokio::test]
async fn fallible_async_step_with_std_error() {
    let p = plan! { add_one >> add_one >> even_only_async };
    assert_eq!(p.run(2).await.unwrap(), 4);

    let err = p.run(1).await.unwrap_err();
    let node = expect_step_error(&err);
    assert_eq!(node.name, "even_only_async");
    assert_eq!(node.path, "2");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(3)));
}

#[tokio::test]
async fn fallible_step_with_boxed_error_downcasts_to_the_boxed_type() {
    let p = plan! { even_only_boxed };
    assert_eq!(p.run(4).await.unwrap(), 4);
    let err = p.run(5).await.unwrap_err();
    assert_eq!(expect_step_error(&err).name, "even_only_boxed");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(5)));
}

#[tokio::test]
async fn fallible_steps_with_string_errors() {
    let p = plan! { small_only >> add_one };
    assert_eq!(p.run(3).await.unwrap(), 4);
    let err = p.run(12).await.unwrap_err();
    let node = expect_step_error(&err);
    assert_eq!(node.name, "small_only");
    assert_eq!(node.path, "0");
    assert_eq!(
        err.source().map(ToString::to_string),
        Some("12 is too big".to_owned())
    );
    assert!(err.to_string().contains("12 is too big"), "{err}");

    let p = plan! { add_one >> small_only_async };
    assert_eq!(p.run(3).await.unwrap(), 4);
    let err = p.run(9).await.unwrap_err();
    assert_eq!(expect_step_error(&err).name, "small_only_async");
    assert_eq!(expect_step_error(&err).path, "1");
    assert!(err.to_string().contains("10 is too big"), "{err}");
}

#[tokio::test]
async fn plan_error_results_pass_through_unchanged() {
    let p = plan! { add_one >> passthrough };
    assert_eq!(p.run(0).await.unwrap(), 1);
    let p = plan! { passthrough >> add_one };
    match p.run(0).await.unwrap_err() {
        PlanError::LoopLimit { node, max } => {
            assert_eq!(*node, upstream_node());
            assert_eq!(max, 42);
        }
        other => panic!("expected the step's own LoopLimit, got {other:?}"),
    }

    let p = plan! { passthrough_async };
    assert_eq!(p.run(7).await.unwrap(), 7);
    match p.run(0).await.unwrap_err() {
        PlanError::Timeout { node, after, .. } => {
            assert_eq!(*node, upstream_node());
            assert_eq!(after, Duration::from_millis(1234));
        }
        other => panic!("expected the step's own Timeout, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Steps reading the context.

#[tokio::test]
async fn sync_and_async_steps_taking_the_context() {
    let cfg = Config::new(100);
    let p = plan! { add_offset >> add_one >> add_offset_async };
    assert_eq!(p.run(1).ctx(&cfg).await.unwrap(), 202);
    assert_eq!(cfg.reads.load(Ordering::SeqCst), 2);

    // The same plan with another context reads that one.
    let other = Config::new(1000);
    assert_eq!(p.run(1).ctx(&other).await.unwrap(), 2002);
    assert_eq!(other.reads.load(Ordering::SeqCst), 2);
    assert_eq!(cfg.reads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn fallible_steps_taking_the_context() {
    let cfg = Config::new(1);
    let p = plan! { checked_offset >> checked_offset_async };
    // 1 + 1 = 2 (even), 2 + 1 = 3 (odd): the second step fails.
    let err = p.run(1).ctx(&cfg).await.unwrap_err();
    assert_eq!(expect_step_error(&err).name, "checked_offset_async");
    assert_eq!(expect_step_error(&err).path, "1");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(3)));
    // 0 + 1 = 1 (odd): the first fails and the second never runs.
    let err = p.run(0).ctx(&cfg).await.unwrap_err();
    assert_eq!(expect_step_error(&err).name, "checked_offset");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(1)));
    assert_eq!(cfg.reads.load(Ordering::SeqCst), 3);

    let cfg = Config::new(2);
    assert_eq!(p.run(0).ctx(&cfg).await.unwrap(), 4);
}

// ---------------------------------------------------------------------------------------------
// Closures.

#[tokio::test]
async fn closures_in_parentheses() {
    let p = plan! { (|x: u32| x + 1) };
    assert_eq!(p.run(1).await.unwrap(), 2);

    let p = plan! { (|x: u32| async move { x + 1 }) };
    assert_eq!(p.run(1).await.unwrap(), 2);

    let p = plan! { (|x: u32| x * 10) >> (|x: u32| async move { x + 3 }) >> add_one };
    assert_eq!(p.run(2).await.unwrap(), 24);

    // A capturing closure.
    let base = 1000_u32;
    let p = plan! { (move |x: u32| x + base) };
    assert_eq!(p.run(1).await.unwrap(), 1001);

    // A fallible closure.
    let p = plan! { (|x: u32| if x > 5 { Err(Odd(x)) } else { Ok(x) }) };
    assert_eq!(p.run(5).await.unwrap(), 5);
    let err = p.run(6).await.unwrap_err();
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(6)));
}

// ---------------------------------------------------------------------------------------------
// blocking(f).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_step_runs_off_the_plan_thread() {
    let test_thread = std::thread::current().id();
    let p = plan! { par(all) { which_thread, blocking(which_thread) } };
    let ((a, inline_thread), (b, blocking_thread)) = p.run(7).await.unwrap();
    assert_eq!((a, b), (7, 7));
    // Control: a plain sync step runs inline, in the task running the plan.
    assert_eq!(inline_thread, test_thread);
    assert_ne!(blocking_thread, test_thread);
}

/// On a single-threaded runtime a blocking step that waits for a sibling branch can only
/// finish if it runs elsewhere: inline, it would block the only thread the sibling could run on.
#[tokio::test(flavor = "current_thread")]
async fn blocking_step_does_not_stall_its_siblings() {
    let (tx, rx) = mpsc::sync_channel::<u32>(1);
    let rx = Mutex::new(rx);
    let wait_for_sibling = move |x: u32| -> Result<u32, String> {
        let got = rx
            .lock()
            .unwrap()
            .recv_timeout(std::time::Duration::from_secs(20))
            .map_err(|e| format!("sibling never sent: {e}"))?;
        Ok(x + got)
    };
    let send = move |x: u32| {
        let tx = tx.clone();
        async move {
            tokio::task::yield_now().await;
            tx.send(x * 100).unwrap();
            x
        }
    };
    let p = plan! { par(all) { blocking(wait_for_sibling), send } };
    assert_eq!(p.run(2).await.unwrap(), (202, 2));
}

#[tokio::test]
async fn blocking_step_errors_name_the_node() {
    let p = plan! { add_one >> blocking(even_only) };
    assert_eq!(p.run(1).await.unwrap(), 2);
    let err = p.run(2).await.unwrap_err();
    let node = expect_step_error(&err);
    assert_eq!(node.name, "blocking(even_only)");
    assert_eq!(node.kind, NodeKind::Blocking);
    assert_eq!(node.path, "1");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(3)));
}

// ---------------------------------------------------------------------------------------------
// A call expression is evaluated once, when the plan is built.

#[tokio::test]
async fn call_expression_is_evaluated_once_when_built() {
    let made = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let p = plan! { add_one >> make_step(3, made.clone(), calls.clone()) };
    assert_eq!(
        made.load(Ordering::SeqCst),
        1,
        "made when the plan is built"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing ran yet");

    assert_eq!(p.run(1).await.unwrap(), 5);
    assert_eq!(p.run(10).await.unwrap(), 14);
    assert_eq!(made.load(Ordering::SeqCst), 1, "not made again per run");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the made step ran per run");
}

// ---------------------------------------------------------------------------------------------
// A custom `Plan` implementation.

#[tokio::test]
async fn custom_struct_implementing_plan() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let triple = Multiply {
        by: 3,
        seen: seen.clone(),
    };
    let p = plan! { add_one >> #[name = "triple"] triple >> add_one };
    assert_eq!(p.run(1).await.unwrap(), 7);
    // The step runs under its own node identity.
    assert_eq!(*seen.lock().unwrap(), vec![("triple", NodeKind::Step)]);

    // Inline struct expression in parentheses, with a context.
    let cfg = Config::new(5);
    let p = plan! { add_offset >> (Multiply { by: 10, seen: seen.clone() }) };
    assert_eq!(p.run(1).ctx(&cfg).await.unwrap(), 60);

    // Its errors come out as it made them.
    let p = plan! { double >> (Multiply { by: 2, seen: seen.clone() }) };
    let err = p.run(0).await.unwrap_err();
    assert_eq!(
        expect_step_error(&err).name,
        "(Multiply { by: 2, seen: seen.clone() })"
    );
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(0)));
}

/// A hand-written step naming itself with `NodeRef::current(&cx)` must get its own path, as a
/// function step does (`"1"` here), not the path doubled.
#[tokio::test]
async fn custom_struct_error_names_its_own_path() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let p = plan! { double >> (Multiply { by: 2, seen: seen.clone() }) };
    let err = p.run(0).await.unwrap_err();
    let node = expect_step_error(&err);
    assert_eq!(node.kind, NodeKind::Step);
    assert_eq!(node.path, "1");
}

// ---------------------------------------------------------------------------------------------
// Nested plans.

#[tokio::test]
async fn nested_plan_as_a_step() {
    let inner = plan! { add_one >> even_only };
    // Alone, the failing step is at path "1".
    let err = inner.run(2).await.unwrap_err();
    assert_eq!(expect_step_error(&err).path, "1");

    let outer = plan! { add_one >> inner >> double };
    // 0 -> 1 -> 2 -> 2 (even) -> 4
    assert_eq!(outer.run(0).await.unwrap(), 4);
    // Reusable: run again.
    assert_eq!(outer.run(2).await.unwrap(), 8);

    // 1 -> 2 -> 3 (odd): fails inside the nested plan, named with the outer step's path.
    let err = outer.run(1).await.unwrap_err();
    let node = expect_step_error(&err);
    assert_eq!(node.name, "even_only");
    assert_eq!(node.path, "1/1");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(3)));
}

#[tokio::test]
async fn nested_plans_prefix_paths_at_every_depth() {
    let innermost = plan! { add_one >> even_only };
    let middle = plan! { add_one >> par(settled) { add_one, innermost } };
    let outer = plan! { add_one >> add_one >> middle };

    // 0 -> 1 -> 2 -> middle: 3 -> (4, innermost(3): 4 -> even)
    let (a, b) = outer.run(0).await.unwrap();
    assert_eq!(a.unwrap(), 4);
    assert_eq!(b.unwrap(), 4);

    // 1 -> 2 -> 3 -> middle: 4 -> (5, innermost(4): 5 -> odd)
    let (a, b) = outer.run(1).await.unwrap();
    assert_eq!(a.unwrap(), 5);
    let err = b.unwrap_err();
    let node = expect_step_error(&err);
    assert_eq!(node.name, "even_only");
    // outer item 2 / middle item 1, branch 1 / innermost item 1
    assert_eq!(node.path, "2/1/1/1");
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(5)));
}

fn boom(x: u32) -> u32 {
    panic!("boom on {x}")
}

async fn slow(x: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    x
}

#[tokio::test(start_paused = true)]
async fn errors_of_every_kind_inside_a_nested_plan_carry_the_full_path() {
    let inner = plan! { add_one >> boom };
    let outer = plan! { add_one >> inner };
    match outer.run(1).await.unwrap_err() {
        PlanError::Panicked { node, message } => {
            assert_eq!(node.name, "boom");
            assert_eq!(node.path, "1/1");
            assert_eq!(message, "boom on 3");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }

    let inner = plan! { add_one >> #[timeout(10ms)] slow };
    let outer = plan! { add_one >> add_one >> inner };
    let err = outer.run(1).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.node().name, "slow");
    assert_eq!(err.node().path, "2/1");
}

/// Nesting a plan as a step wraps its future once: the cost of a level is added, not
/// multiplied, so deep nesting cannot blow up the size of a run's future (and the stack).
#[test]
fn nesting_a_plan_adds_to_its_future_size_instead_of_multiplying_it() {
    let a = plan! { add_one };
    let mut sizes = vec![std::mem::size_of_val(&a.call(1, Cx::root(&())))];
    let b = plan! { a };
    sizes.push(std::mem::size_of_val(&b.call(1, Cx::root(&()))));
    let c = plan! { b };
    sizes.push(std::mem::size_of_val(&c.call(1, Cx::root(&()))));
    let d = plan! { c };
    sizes.push(std::mem::size_of_val(&d.call(1, Cx::root(&()))));
    let growth: Vec<usize> = sizes.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        growth.iter().all(|&g| g == growth[0]) && growth[0] < 4 * sizes[0],
        "each level should add the same small amount; sizes {sizes:?}"
    );
}
