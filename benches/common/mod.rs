//! What every benchmark shares: the runtimes, and the branch that fan-outs run.
//!
//! Each bench declares `mod common;` and uses part of it.
#![allow(dead_code)]

use std::time::Duration;

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
