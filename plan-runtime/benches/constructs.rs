//! What single constructs cost against the code they replace: a deadline (`#[timeout]` vs
//! `tokio::time::timeout`: how late each returns), `focus` vs mutating the field directly,
//! `#[retry]` on the success path vs a hand-written retry loop, the constructs that call user
//! code besides steps (a `loop` condition, a `choose` predicate, an `n_best` score) vs the
//! `while`, `if` and sort they replace, a plan run through a `BoxPlan` vs the same plan run
//! directly, `par(quorum(..))` vs a `FuturesUnordered` with a counter, and `#[hedge(..)]` vs a
//! `tokio::select!` with a timer.
//!
//! `cargo bench -p plan-runtime --bench constructs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use futures::stream::{FuturesUnordered, StreamExt};
use plan_runtime::prelude::*;

mod common;

const DEADLINE: Duration = Duration::from_millis(50);

/// A step that would take a second.
async fn slow(x: u64) -> u64 {
    tokio::time::sleep(Duration::from_secs(1)).await;
    x
}

fn deadline(c: &mut Criterion) {
    let rt = common::current_thread();
    let plan = plan! { #[timeout(50ms)] slow };
    assert!(matches!(
        rt.block_on(plan.run(1)),
        Err(PlanError::Timeout { .. })
    ));
    let mut group = c.benchmark_group("deadline_50ms");
    group.sample_size(10);
    group.bench_function("plan_timeout", |b| {
        b.to_async(&rt)
            .iter(|| async { plan.run(1).await.unwrap_err() })
    });
    group.bench_function("tokio_timeout", |b| {
        b.to_async(&rt)
            .iter(|| async { tokio::time::timeout(DEADLINE, slow(1)).await.unwrap_err() })
    });
    group.finish();
}

#[derive(Clone, Default, Lens)]
struct Agent {
    turns: u64,
    /// Along for the ride: a focus on `turns` must not copy it.
    memory: Vec<String>,
}

async fn inc(x: u64) -> u64 {
    std::hint::black_box(x + 1)
}

fn agent() -> Agent {
    Agent {
        turns: 0,
        memory: vec!["an observation".to_owned(); 64],
    }
}

fn focus(c: &mut Criterion) {
    let rt = common::current_thread();
    let plan = plan! { focus(Agent::turns) { inc } };
    let after = rt.block_on(plan.run(agent())).unwrap();
    assert_eq!((after.turns, after.memory.len()), (1, 64));
    let mut group = c.benchmark_group("focus");
    group.bench_function("plan_focus", |b| {
        b.to_async(&rt).iter_batched(
            agent,
            |agent| async { plan.run(agent).await.unwrap() },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("hand", |b| {
        b.to_async(&rt).iter_batched(
            agent,
            |mut agent| async move {
                agent.turns = inc(agent.turns).await;
                agent
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

#[derive(Debug, thiserror::Error)]
#[error("flaky")]
struct Flaky;

/// A fallible step that succeeds: the path that retries must not slow down.
async fn try_inc(x: u64) -> Result<u64, Flaky> {
    Ok(std::hint::black_box(x + 1))
}

/// What `#[retry(3, backoff = 100ms)]` replaces (without its jitter).
async fn retry_by_hand(x: u64) -> Result<u64, Flaky> {
    let mut backoff = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match try_inc(x).await {
            Ok(y) => return Ok(y),
            Err(err) if attempt == 3 => return Err(err),
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
        }
    }
}

fn retry(c: &mut Criterion) {
    let rt = common::current_thread();
    let with_retry = plan! { #[retry(3, backoff = 100ms)] try_inc };
    let without = plan! { try_inc };
    let mut group = c.benchmark_group("retry_success");
    group.bench_function("plan_retry", |b| {
        b.to_async(&rt)
            .iter(|| async { with_retry.run(std::hint::black_box(1)).await.unwrap() })
    });
    group.bench_function("plan_no_retry", |b| {
        b.to_async(&rt)
            .iter(|| async { without.run(std::hint::black_box(1)).await.unwrap() })
    });
    group.bench_function("hand_retry_loop", |b| {
        b.to_async(&rt)
            .iter(|| async { retry_by_hand(std::hint::black_box(1)).await.unwrap() })
    });
    group.finish();
}

/// One plan run directly and through a `BoxPlan`: the difference is what erasing its type
/// costs per run (the boxed future's allocation and a dynamic call), at 1 step and at 10.
fn boxed(c: &mut Criterion) {
    let rt = common::current_thread();
    let mut group = c.benchmark_group("boxed");
    compare_boxed(&mut group, &rt, 1, plan! { inc });
    let ten = plan! { inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc >> inc };
    compare_boxed(&mut group, &rt, 10, ten);
    group.finish();
}

fn compare_boxed<P: Plan<u64, Out = u64> + Clone + 'static>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    steps: u64,
    plan: P,
) {
    let boxed: BoxPlan<u64, u64> = plan.clone().boxed();
    assert_eq!(rt.block_on(plan.run(0)).unwrap(), steps);
    assert_eq!(rt.block_on(boxed.run(0)).unwrap(), steps);
    group.bench_function(BenchmarkId::new("direct", steps), |b| {
        b.to_async(rt)
            .iter(|| async { plan.run(std::hint::black_box(0)).await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("boxed", steps), |b| {
        b.to_async(rt)
            .iter(|| async { boxed.run(std::hint::black_box(0)).await.unwrap() })
    });
}

fn below_100(x: &u64) -> bool {
    *x < 100
}

fn is_even(x: &u64) -> bool {
    x.is_multiple_of(2)
}

fn score(x: &u64) -> u64 {
    *x
}

async fn dec(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_sub(1))
}

async fn double(x: u64) -> u64 {
    std::hint::black_box(x * 2)
}

/// What `par(n_best(2, by = score)) { inc, dec, double }` replaces: the three branches joined,
/// then the best two by score.
async fn n_best_by_hand(x: u64) -> Vec<u64> {
    let (a, b, c) = futures::join!(inc(x), dec(x), double(x));
    let mut all = vec![a, b, c];
    all.sort_by_key(|v| std::cmp::Reverse(score(v)));
    all.truncate(2);
    all
}

fn control(c: &mut Criterion) {
    let rt = common::current_thread();
    let looped = plan! { loop(while = below_100, max = 200) { inc } };
    let chosen = plan! { choose { if is_even => inc, else => dec } };
    let ranked = plan! { par(n_best(2, by = score)) { inc, dec, double } };
    assert_eq!(rt.block_on(looped.run(0)).unwrap(), 100);
    assert_eq!(
        rt.block_on(ranked.run(5)).unwrap(),
        rt.block_on(n_best_by_hand(5))
    );
    let mut group = c.benchmark_group("control");
    group.bench_function("plan_loop_100", |b| {
        b.to_async(&rt)
            .iter(|| async { looped.run(std::hint::black_box(0)).await.unwrap() })
    });
    group.bench_function("hand_loop_100", |b| {
        b.to_async(&rt).iter(|| async {
            let mut x = std::hint::black_box(0);
            while below_100(&x) {
                x = inc(x).await;
            }
            x
        })
    });
    group.bench_function("plan_choose", |b| {
        b.to_async(&rt)
            .iter(|| async { chosen.run(std::hint::black_box(2)).await.unwrap() })
    });
    group.bench_function("hand_choose", |b| {
        b.to_async(&rt).iter(|| async {
            let x = std::hint::black_box(2);
            if is_even(&x) {
                inc(x).await
            } else {
                dec(x).await
            }
        })
    });
    group.bench_function("plan_n_best", |b| {
        b.to_async(&rt)
            .iter(|| async { ranked.run(std::hint::black_box(5)).await.unwrap() })
    });
    group.bench_function("hand_n_best", |b| {
        b.to_async(&rt)
            .iter(|| async { n_best_by_hand(std::hint::black_box(5)).await })
    });
    group.finish();
}

/// What `par(quorum(3)) { inc, dec, inc, double, inc }` replaces: the five branches in a
/// `FuturesUnordered`, a count of votes per output, the first output with three, and its
/// voters in branch order.
async fn quorum_by_hand(x: u64) -> Quorum<u64> {
    let branches: [fn(u64) -> BoxFut<u64>; 5] = [
        |x| Box::pin(inc(x)),
        |x| Box::pin(dec(x)),
        |x| Box::pin(inc(x)),
        |x| Box::pin(double(x)),
        |x| Box::pin(inc(x)),
    ];
    let mut running: FuturesUnordered<_> = branches
        .iter()
        .enumerate()
        .map(|(i, branch)| async move { (i, branch(x).await) })
        .collect();
    let mut votes: HashMap<u64, Vec<usize>> = HashMap::new();
    while let Some((i, output)) = running.next().await {
        let voters = votes.entry(output).or_default();
        voters.push(i);
        if voters.len() == 3 {
            let mut voters = std::mem::take(voters);
            voters.sort_unstable();
            return Quorum { output, voters };
        }
    }
    unreachable!("three of the five branches agree")
}

type BoxFut<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

fn quorum(c: &mut Criterion) {
    let rt = common::current_thread();
    let voted = plan! { par(quorum(3)) { inc, dec, inc, double, inc } };
    assert_eq!(
        rt.block_on(voted.run(5)).unwrap(),
        rt.block_on(quorum_by_hand(5))
    );
    let mut group = c.benchmark_group("quorum");
    group.bench_function("plan_quorum", |b| {
        b.to_async(&rt)
            .iter(|| async { voted.run(std::hint::black_box(5)).await.unwrap() })
    });
    group.bench_function("futures_unordered", |b| {
        b.to_async(&rt)
            .iter(|| async { quorum_by_hand(std::hint::black_box(5)).await })
    });
    group.finish();
}

/// How long a call runs before it is hedged.
const HEDGE_AFTER: Duration = Duration::from_millis(1);

/// A call whose every other attempt hangs: the first attempt of a hedged call, then its
/// hedge, which answers at once.
fn stuck_then_quick() -> impl Fn(u64) -> BoxFut<Result<u64, Flaky>> + Clone + Send + Sync {
    let attempts = std::sync::Arc::new(AtomicU64::new(0));
    move |x| {
        let attempt = attempts.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            if attempt.is_multiple_of(2) {
                std::future::pending::<()>().await;
            }
            try_inc(x).await
        })
    }
}

/// What `#[hedge(after = 1ms)]` replaces: the call, raced against a timer; when the timer
/// fires first, a second attempt raced against the first.
async fn hedge_by_hand<F>(call: impl Fn(u64) -> F, x: u64) -> Result<u64, Flaky>
where
    F: std::future::Future<Output = Result<u64, Flaky>>,
{
    let first = call(x);
    tokio::pin!(first);
    tokio::select! {
        biased;
        done = &mut first => return done,
        () = tokio::time::sleep(HEDGE_AFTER) => {}
    }
    let second = call(x);
    tokio::select! {
        done = first => done,
        done = second => done,
    }
}

fn hedge(c: &mut Criterion) {
    let rt = common::current_thread();
    // Every call may be hedged (`share = 100%`), so that each hedged run below is one.
    let quick = plan! { #[hedge(after = 1ms, share = 100%)] try_inc };
    let stuck = stuck_then_quick();
    let hedged = plan! { #[hedge(after = 1ms, share = 100%)] (stuck.clone()) };
    assert_eq!(rt.block_on(hedged.run(1)).unwrap(), 2);
    let by_hand = stuck_then_quick();
    assert_eq!(rt.block_on(hedge_by_hand(&by_hand, 1)).unwrap(), 2);
    let mut group = c.benchmark_group("hedge");
    group.bench_function("plan_answered_at_once", |b| {
        b.to_async(&rt)
            .iter(|| async { quick.run(std::hint::black_box(1)).await.unwrap() })
    });
    group.bench_function("select_answered_at_once", |b| {
        b.to_async(&rt).iter(|| async {
            hedge_by_hand(try_inc, std::hint::black_box(1))
                .await
                .unwrap()
        })
    });
    group.sample_size(20);
    group.bench_function("plan_hedged", |b| {
        b.to_async(&rt)
            .iter(|| async { hedged.run(std::hint::black_box(1)).await.unwrap() })
    });
    group.bench_function("select_hedged", |b| {
        b.to_async(&rt).iter(|| async {
            hedge_by_hand(&by_hand, std::hint::black_box(1))
                .await
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(
    benches, deadline, focus, retry, control, boxed, quorum, hedge
);
criterion_main!(benches);
