//! What every benchmark shares: the runtimes, the branch that fan-outs run, and the
//! hand-written fan-outs plans are measured against.
//!
//! Each bench declares `mod common;` and uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::task::JoinSet;

/// The runtime for shapes that do not sleep: one thread, so the figures are the plan's own.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The runtime for fan-outs: what `#[tokio::main]` gives, so a `JoinSet` can use every core.
/// A plan (like `FuturesUnordered`) runs its branches in the task that awaits it.
pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// How long every fan-out branch sleeps.
pub const NAP: Duration = Duration::from_millis(10);

/// A fan-out branch: sleeps [`NAP`], then returns its item.
pub async fn nap(item: u64) -> u64 {
    tokio::time::sleep(NAP).await;
    item
}

/// `items` through [`nap`] with a `FuturesUnordered`, results in input order (as `each(all)`).
pub async fn futures_unordered(items: Vec<u64>) -> Vec<u64> {
    let mut out = vec![0; items.len()];
    let mut running: FuturesUnordered<_> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| async move { (i, nap(item).await) })
        .collect();
    while let Some((i, value)) = running.next().await {
        out[i] = value;
    }
    out
}

/// `items` through [`nap`] with `join_all`.
pub async fn join_all(items: Vec<u64>) -> Vec<u64> {
    futures::future::join_all(items.into_iter().map(nap)).await
}

/// `items` through [`nap`], one task each in a `JoinSet`, results in input order.
pub async fn join_set(items: Vec<u64>) -> Vec<u64> {
    let mut out = vec![0; items.len()];
    let mut set = JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        set.spawn(async move { (i, nap(item).await) });
    }
    while let Some(done) = set.join_next().await {
        let (i, value) = done.expect("a branch panicked");
        out[i] = value;
    }
    out
}
