//! What a plan costs over the same work written by hand (issue: within 1.2×).
//!
//! `cargo bench --bench overhead`. Shapes: a 1,000-step chain of trivial async steps against
//! 1,000 sequential `.await`s; a 1,000-item `each` and a 3-branch `par` of trivial async
//! steps against `FuturesUnordered` and `tokio::join!`. Each plan also runs with a run report
//! (`…_reported`), to show what recording every node costs.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures::stream::{FuturesUnordered, StreamExt};
use plan_runtime::prelude::*;

async fn inc(x: u64) -> u64 {
    std::hint::black_box(x + 1)
}

async fn double(x: u64) -> u64 {
    std::hint::black_box(x * 2)
}

include!("generated/chain_1000.rs");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn chain(c: &mut Criterion) {
    let rt = runtime();
    let plan = chain_1000_plan!();
    let mut group = c.benchmark_group("chain_1000");
    group.bench_function("plan", |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run(std::hint::black_box(0)).await.unwrap() })
    });
    group.bench_function("plan_reported", |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run_reported(std::hint::black_box(0)).await })
    });
    group.bench_function("hand_written", |b| {
        b.to_async(&rt)
            .iter(|| chain_1000_hand(std::hint::black_box(0)))
    });
    group.finish();
}

fn fan_out(c: &mut Criterion) {
    let rt = runtime();
    let plan = plan! { each(all) { double } };
    let mut group = c.benchmark_group("fan_out_1000");
    group.bench_function("plan_each_all", |b| {
        b.to_async(&rt).iter_batched(
            || (0..1000u64).collect::<Vec<_>>(),
            |items| async { plan.run(items).await.unwrap() },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("plan_each_all_reported", |b| {
        b.to_async(&rt).iter_batched(
            || (0..1000u64).collect::<Vec<_>>(),
            |items| async { plan.run_reported(items).await },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hand_written_futures_unordered", |b| {
        b.to_async(&rt).iter_batched(
            || (0..1000u64).collect::<Vec<_>>(),
            |items| async move {
                // Same contract as `each(all)`: results in input order.
                let mut out = vec![0; items.len()];
                let mut running: FuturesUnordered<_> = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| async move { (i, double(x).await) })
                    .collect();
                while let Some((i, y)) = running.next().await {
                    out[i] = y;
                }
                out
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let plan = plan! { par(all) { double, double, double } };
    let mut group = c.benchmark_group("par_3");
    group.bench_function("plan_par_all", |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run(std::hint::black_box(1)).await.unwrap() })
    });
    group.bench_function("plan_par_all_reported", |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run_reported(std::hint::black_box(1)).await })
    });
    group.bench_function("hand_written_join", |b| {
        b.to_async(&rt).iter(|| async {
            let x = std::hint::black_box(1);
            tokio::join!(double(x), double(x), double(x))
        })
    });
    group.finish();
}

criterion_group!(benches, chain, fan_out);
criterion_main!(benches);
