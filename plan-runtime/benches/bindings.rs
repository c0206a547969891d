//! A dependency graph of trivial async steps run two ways: as a `plan!` of `let` bindings,
//! and written by hand with `futures::future::join` and `Shared` — the idiomatic equivalent,
//! which also starts every node the moment its inputs are ready. The steps are `u64`
//! arithmetic behind `black_box`, never pending, so the difference is the bindings' own
//! overhead: their slots, the scheduler in `plan_runtime::__private::bindings`, and each node's identity.
//!
//! Two graphs: 10 nodes with fan-out, fan-in and a cross-branch edge, and a 50-node layered
//! graph where every value but the last layer's is read twice. Each is also run as plain
//! sequential `.await`s: the floor, what the steps cost with no graph machinery at all.
//!
//! `cargo bench -p plan-runtime --bench bindings`.

use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures::future::{FutureExt, join};
use plan_runtime::prelude::*;

mod common;

async fn load(x: u64) -> u64 {
    black_box(x + 1)
}

async fn inc(x: u64) -> u64 {
    black_box(x.wrapping_add(1))
}

async fn double(x: u64) -> u64 {
    black_box(x.wrapping_mul(2))
}

async fn triple(x: u64) -> u64 {
    black_box(x.wrapping_mul(3))
}

async fn square(x: u64) -> u64 {
    black_box(x.wrapping_mul(x))
}

async fn add((a, b): (u64, u64)) -> u64 {
    black_box(a.wrapping_add(b))
}

/// Not symmetric, so swapping two sources by mistake changes the result.
async fn mix((a, b): (u64, u64)) -> u64 {
    black_box(a.wrapping_mul(31).wrapping_add(b))
}

async fn sum8((a, b, c, d, e, f, g, h): (u64, u64, u64, u64, u64, u64, u64, u64)) -> u64 {
    black_box(
        [a, b, c, d, e, f, g, h]
            .into_iter()
            .fold(0, u64::wrapping_add),
    )
}

/// Ten steps: `src` fans out to three branches, `joined` reads across two of them, and `mid`
/// is read twice (by `joined` and by the output).
fn small_plan() -> impl Plan<u64, Out = u64> {
    plan! {
        let src = load;
        let left = src >> double >> inc;
        let mid = src >> square;
        let right = src >> inc >> triple;
        let joined = (left, mid) >> add;
        let tail = right >> inc;
        let merged = (joined, tail) >> mix;
        (merged, mid) >> add
    }
}

/// The same graph by hand. A value read by several nodes is a `Shared` future, cloned once per
/// reader; a node reading two values awaits them together with `join`, so neither waits for
/// the other to start. Nothing runs until the last `join` polls the whole tree.
async fn small_hand(x: u64) -> u64 {
    let src = load(x).shared();
    let left = {
        let src = src.clone();
        async move { inc(double(src.await).await).await }
    };
    let mid = {
        let src = src.clone();
        async move { square(src.await).await }
    }
    .shared();
    let right = async move { triple(inc(src.await).await).await };
    let joined = {
        let mid = mid.clone();
        async move { add(join(left, mid).await).await }
    };
    let tail = async move { inc(right.await).await };
    let merged = async move { mix(join(joined, tail).await).await };
    add(join(merged, mid).await).await
}

/// The floor: the same ten steps awaited one after another. It starts nothing concurrently, so
/// it is no equivalent once a step waits, but with steps that never do it is what the graph
/// costs without any machinery.
async fn small_sequential(x: u64) -> u64 {
    let src = load(x).await;
    let left = inc(double(src).await).await;
    let mid = square(src).await;
    let right = triple(inc(src).await).await;
    let joined = add((left, mid)).await;
    let tail = inc(right).await;
    let merged = mix((joined, tail)).await;
    add((merged, mid)).await
}

/// 50 nodes: `src`, then six layers of 8 where node `j` of a layer reads nodes `j` and
/// `j + 1` (wrapping) of the layer above, then one node reading the whole last layer. Written
/// out because `plan!` takes its text literally.
fn wide_plan() -> impl Plan<u64, Out = u64> {
    plan! {
        let src = load;
        let l1_0 = src >> double;
        let l1_1 = src >> inc;
        let l1_2 = src >> square;
        let l1_3 = src >> triple;
        let l1_4 = src >> double;
        let l1_5 = src >> inc;
        let l1_6 = src >> square;
        let l1_7 = src >> triple;
        let l2_0 = (l1_0, l1_1) >> add;
        let l2_1 = (l1_1, l1_2) >> add;
        let l2_2 = (l1_2, l1_3) >> add;
        let l2_3 = (l1_3, l1_4) >> add;
        let l2_4 = (l1_4, l1_5) >> add;
        let l2_5 = (l1_5, l1_6) >> add;
        let l2_6 = (l1_6, l1_7) >> add;
        let l2_7 = (l1_7, l1_0) >> add;
        let l3_0 = (l2_0, l2_1) >> mix;
        let l3_1 = (l2_1, l2_2) >> mix;
        let l3_2 = (l2_2, l2_3) >> mix;
        let l3_3 = (l2_3, l2_4) >> mix;
        let l3_4 = (l2_4, l2_5) >> mix;
        let l3_5 = (l2_5, l2_6) >> mix;
        let l3_6 = (l2_6, l2_7) >> mix;
        let l3_7 = (l2_7, l2_0) >> mix;
        let l4_0 = (l3_0, l3_1) >> add;
        let l4_1 = (l3_1, l3_2) >> add;
        let l4_2 = (l3_2, l3_3) >> add;
        let l4_3 = (l3_3, l3_4) >> add;
        let l4_4 = (l3_4, l3_5) >> add;
        let l4_5 = (l3_5, l3_6) >> add;
        let l4_6 = (l3_6, l3_7) >> add;
        let l4_7 = (l3_7, l3_0) >> add;
        let l5_0 = (l4_0, l4_1) >> mix;
        let l5_1 = (l4_1, l4_2) >> mix;
        let l5_2 = (l4_2, l4_3) >> mix;
        let l5_3 = (l4_3, l4_4) >> mix;
        let l5_4 = (l4_4, l4_5) >> mix;
        let l5_5 = (l4_5, l4_6) >> mix;
        let l5_6 = (l4_6, l4_7) >> mix;
        let l5_7 = (l4_7, l4_0) >> mix;
        let l6_0 = (l5_0, l5_1) >> add;
        let l6_1 = (l5_1, l5_2) >> add;
        let l6_2 = (l5_2, l5_3) >> add;
        let l6_3 = (l5_3, l5_4) >> add;
        let l6_4 = (l5_4, l5_5) >> add;
        let l6_5 = (l5_5, l5_6) >> add;
        let l6_6 = (l5_6, l5_7) >> add;
        let l6_7 = (l5_7, l5_0) >> add;
        (l6_0, l6_1, l6_2, l6_3, l6_4, l6_5, l6_6, l6_7) >> sum8
    }
}

/// A hand-written node reading one value that other nodes read too: its own clone of the
/// `Shared` future.
macro_rules! one {
    ($step:ident, $source:ident) => {{
        let source = $source.clone();
        async move { $step(source.await).await }
    }};
}

/// A hand-written node reading two shared values, awaited together.
macro_rules! two {
    ($step:ident, $a:ident, $b:ident) => {{
        let (a, b) = ($a.clone(), $b.clone());
        async move { $step(join(a, b).await).await }
    }};
}

/// The same 50 nodes by hand: every value of layers 1 to 5 is read twice, so `Shared`; the
/// last layer is read once, by the final `join!`.
async fn wide_hand(x: u64) -> u64 {
    let src = load(x).shared();
    let l1_0 = one!(double, src).shared();
    let l1_1 = one!(inc, src).shared();
    let l1_2 = one!(square, src).shared();
    let l1_3 = one!(triple, src).shared();
    let l1_4 = one!(double, src).shared();
    let l1_5 = one!(inc, src).shared();
    let l1_6 = one!(square, src).shared();
    let l1_7 = one!(triple, src).shared();
    let l2_0 = two!(add, l1_0, l1_1).shared();
    let l2_1 = two!(add, l1_1, l1_2).shared();
    let l2_2 = two!(add, l1_2, l1_3).shared();
    let l2_3 = two!(add, l1_3, l1_4).shared();
    let l2_4 = two!(add, l1_4, l1_5).shared();
    let l2_5 = two!(add, l1_5, l1_6).shared();
    let l2_6 = two!(add, l1_6, l1_7).shared();
    let l2_7 = two!(add, l1_7, l1_0).shared();
    let l3_0 = two!(mix, l2_0, l2_1).shared();
    let l3_1 = two!(mix, l2_1, l2_2).shared();
    let l3_2 = two!(mix, l2_2, l2_3).shared();
    let l3_3 = two!(mix, l2_3, l2_4).shared();
    let l3_4 = two!(mix, l2_4, l2_5).shared();
    let l3_5 = two!(mix, l2_5, l2_6).shared();
    let l3_6 = two!(mix, l2_6, l2_7).shared();
    let l3_7 = two!(mix, l2_7, l2_0).shared();
    let l4_0 = two!(add, l3_0, l3_1).shared();
    let l4_1 = two!(add, l3_1, l3_2).shared();
    let l4_2 = two!(add, l3_2, l3_3).shared();
    let l4_3 = two!(add, l3_3, l3_4).shared();
    let l4_4 = two!(add, l3_4, l3_5).shared();
    let l4_5 = two!(add, l3_5, l3_6).shared();
    let l4_6 = two!(add, l3_6, l3_7).shared();
    let l4_7 = two!(add, l3_7, l3_0).shared();
    let l5_0 = two!(mix, l4_0, l4_1).shared();
    let l5_1 = two!(mix, l4_1, l4_2).shared();
    let l5_2 = two!(mix, l4_2, l4_3).shared();
    let l5_3 = two!(mix, l4_3, l4_4).shared();
    let l5_4 = two!(mix, l4_4, l4_5).shared();
    let l5_5 = two!(mix, l4_5, l4_6).shared();
    let l5_6 = two!(mix, l4_6, l4_7).shared();
    let l5_7 = two!(mix, l4_7, l4_0).shared();
    let l6_0 = two!(add, l5_0, l5_1);
    let l6_1 = two!(add, l5_1, l5_2);
    let l6_2 = two!(add, l5_2, l5_3);
    let l6_3 = two!(add, l5_3, l5_4);
    let l6_4 = two!(add, l5_4, l5_5);
    let l6_5 = two!(add, l5_5, l5_6);
    let l6_6 = two!(add, l5_6, l5_7);
    let l6_7 = two!(add, l5_7, l5_0);
    let all = futures::join!(l6_0, l6_1, l6_2, l6_3, l6_4, l6_5, l6_6, l6_7);
    sum8(all).await
}

/// The floor of the 50-node graph, as [`small_sequential`]; loops, since nothing here is named.
async fn wide_sequential(x: u64) -> u64 {
    let src = load(x).await;
    let mut layer = [0; 8];
    for (j, value) in layer.iter_mut().enumerate() {
        *value = match j % 4 {
            0 => double(src).await,
            1 => inc(src).await,
            2 => square(src).await,
            _ => triple(src).await,
        };
    }
    for depth in 2..=6 {
        let above = layer;
        for (j, value) in layer.iter_mut().enumerate() {
            let pair = (above[j], above[(j + 1) % 8]);
            *value = if depth % 2 == 0 {
                add(pair).await
            } else {
                mix(pair).await
            };
        }
    }
    let [a, b, c, d, e, f, g, h] = layer;
    sum8((a, b, c, d, e, f, g, h)).await
}

fn compare<P, F, G>(
    c: &mut Criterion,
    nodes: u64,
    plan: P,
    hand: fn(u64) -> F,
    sequential: fn(u64) -> G,
) where
    P: Plan<u64, Out = u64>,
    F: Future<Output = u64>,
    G: Future<Output = u64>,
{
    let rt = common::current_thread();
    // Not 0: `src` would be 1, which `square` returns unchanged, so a misrouted edge could
    // go unnoticed.
    let input = 7;
    let expected = rt.block_on(sequential(input));
    assert_eq!(
        rt.block_on(plan.run(input)).unwrap(),
        expected,
        "the {nodes}-node plan computes what the graph does"
    );
    assert_eq!(
        rt.block_on(hand(input)),
        expected,
        "the {nodes}-node hand-written graph computes what the graph does"
    );
    let mut group = c.benchmark_group("bindings");
    group.bench_function(BenchmarkId::new("plan", nodes), |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run(black_box(input)).await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("hand_join_shared", nodes), |b| {
        b.to_async(&rt).iter(|| hand(black_box(input)))
    });
    group.bench_function(BenchmarkId::new("hand_sequential", nodes), |b| {
        b.to_async(&rt).iter(|| sequential(black_box(input)))
    });
    group.finish();
}

fn bindings(c: &mut Criterion) {
    compare(c, 10, small_plan(), small_hand, small_sequential);
    compare(c, 50, wide_plan(), wide_hand, wide_sequential);
}

criterion_group! {
    name = benches;
    // Runs take microseconds: short defaults are plenty, and `bench/run`'s flags override them.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bindings
}
criterion_main!(benches);
