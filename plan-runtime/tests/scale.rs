//! Long chains: a 10,000-step plan (plans nested ten wide, four deep), built from named plans
//! or inline and run inside an `each`, a 1,000-step nested plan with an error deep inside, and
//! a flat 1,000-step `plan!` written out token by token by `macro_rules!`, all built and run
//! on a 2 MiB stack (a test thread's default).

use plan_runtime::Cx;
use plan_runtime::prelude::*;

async fn inc(x: u64) -> u64 {
    x + 1
}

#[derive(Debug)]
struct TooBig(u64);

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is too big", self.0)
    }
}

impl std::error::Error for TooBig {}

/// Fails once the count passes 500.
fn checked(x: u64) -> Result<u64, TooBig> {
    if x > 500 { Err(TooBig(x)) } else { Ok(x) }
}

#[tokio::test]
async fn ten_thousand_steps_as_nested_plans() {
    let p10 = plan! { inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc };
    let p100 = plan! {
        (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone())
        >> (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone())
    };
    let p1000 = plan! {
        (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone())
        >> (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone())
    };
    let p10000 = plan! {
        (p1000.clone()) >> (p1000.clone()) >> (p1000.clone()) >> (p1000.clone()) >> (p1000.clone())
        >> (p1000.clone()) >> (p1000.clone()) >> (p1000.clone()) >> (p1000.clone()) >> (p1000.clone())
    };
    assert_eq!(p10.run(0).await.unwrap(), 10);
    assert_eq!(p100.run(0).await.unwrap(), 100);
    assert_eq!(p1000.run(5).await.unwrap(), 1_005);
    assert_eq!(p10000.run(0).await.unwrap(), 10_000);
    assert_eq!(p10000.run(123).await.unwrap(), 10_123);
}

/// Ten `inc`s.
fn p10() -> impl Plan<u64, Out = u64> + Clone {
    plan! { inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc }
}

/// A plan of ten copies of `$plan`, each evaluated in place.
macro_rules! ten {
    ($plan:expr) => {
        plan! {
            ($plan) >> ($plan) >> ($plan) >> ($plan) >> ($plan)
            >> ($plan) >> ($plan) >> ($plan) >> ($plan) >> ($plan)
        }
    };
}

/// Runs `test` with a tokio runtime on a thread with a 2 MiB stack: the default of a test
/// thread, set here so that `RUST_MIN_STACK` cannot hide an overflow.
fn on_a_2_mib_stack(test: impl FnOnce(&tokio::runtime::Runtime) + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            test(&rt);
        })
        .unwrap()
        .join()
        .unwrap();
}

// Building a plan moves its value through every constructor and binding of its `plan!`, and a
// debug build keeps a copy at each: these overflowed a 2 MiB stack (built inline, 2.8 MiB and
// 3.5 MiB inside an `each`) until a nested plan was boxed in its parent.

#[test]
fn ten_thousand_steps_built_from_named_plans_run_inside_each() {
    on_a_2_mib_stack(|rt| {
        let p100 = ten!(p10());
        let p1000 = ten!(p100.clone());
        let p10000 = ten!(p1000.clone());
        let fan_out = plan! { each(all) { p10000 } };
        let outs = rt.block_on(fan_out.run(vec![0, 7])).unwrap();
        assert_eq!(outs, [10_000, 10_007]);
    });
}

#[test]
fn ten_thousand_steps_built_inline_run_inside_each() {
    on_a_2_mib_stack(|rt| {
        let fan_out = plan! { each(all) { (ten!(ten!(ten!(p10())))) } };
        let outs = rt.block_on(fan_out.run(vec![0, 7])).unwrap();
        assert_eq!(outs, [10_000, 10_007]);
    });
}

#[test]
fn a_plan_value_holds_its_own_items_however_deep_they_nest() {
    let p100 = ten!(p10());
    let p1000 = ten!(p100.clone());
    let p10000 = ten!(p1000.clone());
    // Ten steps, each a boxed nested plan, at every level: the same size, and small.
    let size = std::mem::size_of_val(&p100);
    assert_eq!(std::mem::size_of_val(&p1000), size);
    assert_eq!(std::mem::size_of_val(&p10000), size);
    assert!(size <= 256, "a plan of ten nested plans takes {size} bytes");
}

#[tokio::test]
async fn one_thousand_steps_as_nested_plans() {
    let p10 = plan! { inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc };
    let p100 = plan! {
        (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone())
        >> (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone()) >> (p10.clone())
    };
    let p1000 = plan! {
        (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone())
        >> (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone()) >> (p100.clone())
    };
    assert_eq!(p1000.run(0).await.unwrap(), 1_000);
    assert_eq!(p1000.run(77).await.unwrap(), 1_077);
}

#[tokio::test]
async fn an_error_deep_in_nested_plans_names_its_full_path() {
    // Every 10-step block is `checked` then 9 increments, so block k (0-based) sees 9 * k.
    // The first value above 500 is 9 * 56 = 504: block 56 is c1000's item 5 > c100's item 6 >
    // its step 0.
    let c10 = plan! { checked >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc };
    let c100 = plan! {
        (c10.clone()) >> (c10.clone()) >> (c10.clone()) >> (c10.clone()) >> (c10.clone())
        >> (c10.clone()) >> (c10.clone()) >> (c10.clone()) >> (c10.clone()) >> (c10.clone())
    };
    let c1000 = plan! {
        (c100.clone()) >> (c100.clone()) >> (c100.clone()) >> (c100.clone()) >> (c100.clone())
        >> (c100.clone()) >> (c100.clone()) >> (c100.clone()) >> (c100.clone()) >> (c100.clone())
    };
    let err = c1000.run(0).await.unwrap_err();
    assert_eq!(err.step_error::<TooBig>().unwrap().0, 504);
    assert_eq!(err.node().path, "5/6/0");
    assert_eq!(err.node().name, "checked");
}

#[test]
fn nesting_a_plan_adds_a_bounded_amount_to_its_future() {
    // A hand-written `async fn outer(x) { inner(x).await }` adds a few words to `inner`'s
    // future; a plan used as a step should cost about the same, whatever it nests.
    let q1 = plan! { inc };
    let q2 = plan! { (q1.clone()) };
    let q3 = plan! { (q2.clone()) };
    let sizes = [
        std::mem::size_of_val(&q1.call(0, Cx::root(&()))),
        std::mem::size_of_val(&q2.call(0, Cx::root(&()))),
        std::mem::size_of_val(&q3.call(0, Cx::root(&()))),
    ];
    for pair in sizes.windows(2) {
        assert!(
            pair[1] <= pair[0] + 1024,
            "future sizes by nesting depth: {sizes:?}"
        );
    }
}

/// Repeats the tokens in `[..]` ten times, joined by `>>`, then hands them to the next macro
/// named after them (continuation-passing, since `macro_rules!` expands outside in).
macro_rules! x10 {
    ([$($t:tt)*] $next:ident $($rest:ident)*) => {
        $next!([$($t)* >> $($t)* >> $($t)* >> $($t)* >> $($t)* >> $($t)* >> $($t)* >> $($t)* >> $($t)* >> $($t)*] $($rest)*)
    };
}

/// The end of an `x10` chain: a flat `plan!` of the accumulated steps.
macro_rules! flat_plan {
    ([$($t:tt)*]) => {
        plan! { $($t)* }
    };
}

#[tokio::test]
async fn flat_one_thousand_step_plan() {
    let plan = x10!([inc] x10 x10 flat_plan);
    assert_eq!(plan.run(0).await.unwrap(), 1_000);
    assert_eq!(plan.run(42).await.unwrap(), 1_042);
    // One graph node per step, plus the root.
    assert_eq!(plan.graph().nodes.len(), 1_001);
}
