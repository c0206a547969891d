//! Fan-outs of N branches that each sleep 10 ms, N = 10 … 100,000: `each(all)` against the
//! hand-written ways to await N futures (`FuturesUnordered`, `join_all`, a `JoinSet`), and a
//! 10-branch `par(all)` against `tokio::join!`. Then `first` over 1 fast and 99 slow branches:
//! the time to return, with every loser dropped.
//!
//! `cargo bench -p plan-runtime --bench fan_out`. All variants return the results in input order, as
//! `each(all)` does. `sleep_alone` is the floor: one 10 ms sleep on the same runtime.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use futures::stream::{FuturesUnordered, StreamExt};
use plan_runtime::prelude::*;

mod common;
use common::{NAP, futures_unordered, join_all, join_set, nap};

const SIZES: [u64; 5] = [10, 100, 1_000, 10_000, 100_000];

fn fan_out(c: &mut Criterion) {
    let rt = common::multi_thread();
    let plan = plan! { each(all) { nap } };
    let mut group = c.benchmark_group("fan_out");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.bench_function("sleep_alone", |b| {
        b.to_async(&rt).iter(|| tokio::time::sleep(NAP))
    });
    for n in SIZES {
        let items = || (0..n).collect::<Vec<u64>>();
        let expected = items();
        assert_eq!(rt.block_on(plan.run(items())).unwrap(), expected);
        assert_eq!(rt.block_on(futures_unordered(items())), expected);
        assert_eq!(rt.block_on(join_all(items())), expected);
        assert_eq!(rt.block_on(join_set(items())), expected);
        group.bench_function(BenchmarkId::new("plan_each", n), |b| {
            b.to_async(&rt).iter_batched(
                items,
                |items| async { plan.run(items).await.unwrap() },
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("futures_unordered", n), |b| {
            b.to_async(&rt)
                .iter_batched(items, futures_unordered, BatchSize::LargeInput)
        });
        group.bench_function(BenchmarkId::new("join_all", n), |b| {
            b.to_async(&rt)
                .iter_batched(items, join_all, BatchSize::LargeInput)
        });
        group.bench_function(BenchmarkId::new("join_set", n), |b| {
            b.to_async(&rt)
                .iter_batched(items, join_set, BatchSize::LargeInput)
        });
    }

    let par = plan! { par(all) { nap, nap, nap, nap, nap, nap, nap, nap, nap, nap } };
    group.bench_function(BenchmarkId::new("plan_par", 10), |b| {
        b.to_async(&rt).iter(|| async { par.run(7).await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("join_macro", 10), |b| {
        b.to_async(&rt).iter(|| async {
            let x = 7;
            tokio::join!(
                nap(x),
                nap(x),
                nap(x),
                nap(x),
                nap(x),
                nap(x),
                nap(x),
                nap(x),
                nap(x),
                nap(x)
            )
        })
    });
    group.finish();
}

/// How many `race` futures have been dropped, finished or not.
static DROPPED: AtomicUsize = AtomicUsize::new(0);

struct CountsDrop;

impl Drop for CountsDrop {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// A branch of the race: sleeps `after` (a zero `after` is ready at once), and counts
/// itself when dropped.
async fn race(after: Duration) -> Duration {
    let _counted = CountsDrop;
    if !after.is_zero() {
        tokio::time::sleep(after).await;
    }
    after
}

/// The winners raced: after 1 ms (the timer's resolution, as in the Python peers), and ready
/// at once, which leaves only the cost of starting 100 branches and dropping 99.
const WINNERS: [(&str, Duration); 2] =
    [("1ms", Duration::from_millis(1)), ("ready", Duration::ZERO)];

/// 99 slow branches, then the winner last, so that no variant wins by starting it first.
fn racers(winner: Duration) -> Vec<Duration> {
    let mut racers = vec![Duration::from_secs(10); 99];
    racers.push(winner);
    racers
}

async fn first_by_hand(racers: Vec<Duration>) -> Duration {
    let mut running: FuturesUnordered<_> = racers.into_iter().map(race).collect();
    // `race` cannot fail, so the first to finish is the first success; returning drops
    // `running`, and the losers with it.
    running.next().await.expect("100 racers")
}

/// Runs `race` once and checks that `winner` won and all 100 branches were dropped by the
/// time it returned.
fn check(name: &str, winner: Duration, race: impl Future<Output = Duration>) {
    DROPPED.store(0, Ordering::Relaxed);
    let won = common::current_thread().block_on(race);
    assert_eq!(won, winner, "{name}: the fast branch wins");
    let dropped = DROPPED.load(Ordering::Relaxed);
    assert_eq!(dropped, 100, "{name}: every branch dropped on return");
}

fn first(c: &mut Criterion) {
    let rt = common::current_thread();
    let plan = plan! { each(first) { race } };
    let mut group = c.benchmark_group("first_of_100");
    group.sample_size(20);
    for (label, winner) in WINNERS {
        check("plan", winner, async {
            plan.run(racers(winner)).await.unwrap()
        });
        check("by hand", winner, first_by_hand(racers(winner)));
        group.bench_function(BenchmarkId::new("plan_each_first", label), |b| {
            b.to_async(&rt).iter_batched(
                || racers(winner),
                |racers| async { plan.run(racers).await.unwrap() },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(BenchmarkId::new("futures_unordered", label), |b| {
            b.to_async(&rt)
                .iter_batched(|| racers(winner), first_by_hand, BatchSize::SmallInput)
        });
    }
    group.finish();
}

criterion_group!(benches, fan_out, first);
criterion_main!(benches);
