//! A sequence of N trivial steps (`x + 1`), as a plan and as N `.await`s written by hand:
//! the cost of a step, with and without a run report.
//!
//! `cargo bench -p plan-runtime --bench chain`; `bench/run` turns the figures into ns per step.
//!
//! `cargo bench -p plan-runtime --bench chain -- --runs VARIANT RUNS` runs the 1,000-step
//! chain (`plan`, `plan_reported` or `hand`) `RUNS` times and nothing else, for an
//! instruction count that the loaded machine does not disturb: under
//! `valgrind --tool=callgrind`, (instructions at `RUNS` − instructions at 0) / (`RUNS` × 1,000)
//! is the instructions per step.

use std::future::Future;

use criterion::{BenchmarkId, Criterion, criterion_group};
use plan_runtime::prelude::*;

mod common;

async fn inc(x: u64) -> u64 {
    std::hint::black_box(x + 1)
}

include!("generated/chains.rs");

/// 10,000 steps: ten 1,000-step plans in one plan. A flat 10,000-step `plan!` compiles, but
/// rustc's time on one function body grows faster than its length (type checking takes 31 s,
/// against 9.4 s for 4,000 steps), and every `cargo clippy --all-targets` would pay it.
/// Nesting costs one node per inner plan.
fn chain_10000_plan() -> impl Plan<u64, Out = u64> {
    plan! {
        (chain_1000_plan()) >> (chain_1000_plan()) >> (chain_1000_plan()) >> (chain_1000_plan())
        >> (chain_1000_plan()) >> (chain_1000_plan()) >> (chain_1000_plan())
        >> (chain_1000_plan()) >> (chain_1000_plan()) >> (chain_1000_plan())
    }
}

/// The same by hand: ten calls of the 1,000-step function.
async fn chain_10000_hand(mut x: u64) -> u64 {
    for _ in 0..10 {
        x = chain_1000_hand(x).await;
    }
    x
}

fn bench<P, F>(c: &mut Criterion, n: u64, plan: P, hand: fn(u64) -> F)
where
    P: Plan<u64, Out = u64>,
    F: Future<Output = u64>,
{
    let rt = common::current_thread();
    assert_eq!(
        rt.block_on(plan.run(0)).unwrap(),
        n,
        "the plan runs {n} steps"
    );
    assert_eq!(
        rt.block_on(hand(0)),
        n,
        "the hand-written chain runs {n} steps"
    );
    let mut group = c.benchmark_group("chain");
    group.bench_function(BenchmarkId::new("plan", n), |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run(std::hint::black_box(0)).await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("plan_reported", n), |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run(std::hint::black_box(0)).reported().await })
    });
    group.bench_function(BenchmarkId::new("hand", n), |b| {
        b.to_async(&rt).iter(|| hand(std::hint::black_box(0)))
    });
    group.finish();
}

fn chains(c: &mut Criterion) {
    bench(c, 10, chain_10_plan(), chain_10_hand);
    bench(c, 100, chain_100_plan(), chain_100_hand);
    bench(c, 1000, chain_1000_plan(), chain_1000_hand);
    bench(c, 10_000, chain_10000_plan(), chain_10000_hand);
}

/// `--runs VARIANT RUNS`: the 1,000-step chain run `RUNS` times on one thread.
fn runs(variant: &str, runs: u64) {
    let rt = common::current_thread();
    let plan = chain_1000_plan();
    let mut out = 0;
    for _ in 0..runs {
        let x = std::hint::black_box(0);
        out = match variant {
            "plan" => rt.block_on(plan.run(x)).unwrap(),
            "plan_reported" => rt.block_on(plan.run(x).reported()).0.unwrap(),
            "hand" => rt.block_on(chain_1000_hand(x)),
            other => panic!("unknown variant {other}: plan, plan_reported or hand"),
        };
    }
    assert!(runs == 0 || out == 1000);
}

criterion_group!(benches, chains);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--runs") {
        let (variant, count) = (
            &args[at + 1],
            args[at + 2].parse().expect("RUNS is a number"),
        );
        return runs(variant, count);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
