//! Helpers shared by the integration tests that watch steps run on tokio's paused clock
//! (`par`, `each`, `attributes`, `choose`): the boxed-future alias `BoxFut`, `ms`, the
//! `define_fail!` macro that declares a test's `Fail` error, the `Probe` that records what the
//! steps of one test did with the `Guard` each step holds while it runs, the `branch` step
//! that reports to it, and the `score`/`ids` helpers of the ranking policies.
//!
//! Each test file declares `mod common;`, so this module is compiled into every one of those
//! test binaries separately.

// Each test binary compiles its own copy of this module and uses only part of it (`choose`
// needs only `BoxFut` and `ms`; `attributes` reads neither `started` nor `max_running`), so
// what one binary leaves unused would otherwise warn there.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Declares `Fail(u32)`, a step's own error carrying the number of what failed, displayed as
/// "`$what` N failed". A macro rather than one shared type so that each file keeps its own
/// wording: "branch 3 failed" (`par`), "item 3 failed" (`each`), "attempt 1 failed"
/// (`attributes`, whose tests assert on that text). Exported (to the root of the test binary
/// that includes this module) so that a binary which never invokes it does not warn.
#[macro_export]
macro_rules! define_fail {
    ($what:literal) => {
        /// A step's own error, carrying the number of what failed.
        #[derive(Debug, Clone, PartialEq, Eq)]
        struct Fail(u32);

        impl ::std::fmt::Display for Fail {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, concat!($what, " {} failed"), self.0)
            }
        }

        impl ::std::error::Error for Fail {}
    };
}

/// Branch `id`: sleeps `sleep_ms`, then returns `outcome` (whatever its input), reporting to
/// `probe` as it starts, finishes or is dropped.
pub fn branch<T, E>(
    probe: &Probe,
    id: u32,
    sleep_ms: u64,
    outcome: Result<T, E>,
) -> impl Fn(u32) -> BoxFut<Result<T, E>> + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    let probe = probe.clone();
    move |_input: u32| {
        let probe = probe.clone();
        let outcome = outcome.clone();
        Box::pin(async move {
            let guard = Guard::enter(&probe, id);
            tokio::time::sleep(ms(sleep_ms)).await;
            guard.finish();
            outcome
        })
    }
}

/// What the steps (branches, items) of one test did.
#[derive(Clone, Default)]
pub struct Probe(Arc<Inner>);

#[derive(Default)]
struct Inner {
    running: AtomicUsize,
    max_running: AtomicUsize,
    started: Mutex<Vec<u32>>,
    finished: Mutex<Vec<u32>>,
    cancelled: Mutex<Vec<u32>>,
}

impl Probe {
    /// Step ids in the order they were first polled.
    pub fn started(&self) -> Vec<u32> {
        self.0.started.lock().unwrap().clone()
    }
    /// Step ids that got past their sleep, in that order.
    pub fn finished(&self) -> Vec<u32> {
        self.0.finished.lock().unwrap().clone()
    }
    /// Step ids whose future was dropped before the end of its sleep, sorted.
    pub fn cancelled(&self) -> Vec<u32> {
        let mut ids = self.0.cancelled.lock().unwrap().clone();
        ids.sort_unstable();
        ids
    }
    /// How many steps are running now.
    pub fn running(&self) -> usize {
        self.0.running.load(SeqCst)
    }
    /// The most steps that were ever running at once.
    pub fn max_running(&self) -> usize {
        self.0.max_running.load(SeqCst)
    }
}

/// Lives inside a step's future from its first poll: records the start, counts the step as
/// running until dropped, and records a cancellation if dropped before `finish`.
pub struct Guard {
    probe: Probe,
    id: u32,
    done: bool,
}

impl Guard {
    pub fn enter(probe: &Probe, id: u32) -> Self {
        probe.0.started.lock().unwrap().push(id);
        let now = probe.0.running.fetch_add(1, SeqCst) + 1;
        probe.0.max_running.fetch_max(now, SeqCst);
        Guard {
            probe: probe.clone(),
            id,
            done: false,
        }
    }

    /// Marks the step as having got past its sleep.
    pub fn finish(mut self) {
        self.done = true;
        self.probe.0.finished.lock().unwrap().push(self.id);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.probe.0.running.fetch_sub(1, SeqCst);
        if !self.done {
            self.probe.0.cancelled.lock().unwrap().push(self.id);
        }
    }
}

/// The score of an `(id, score)` output, for the ranking policies.
pub fn score(out: &(u32, f64)) -> f64 {
    out.1
}

/// The ids of `(id, score)` outputs, in order.
pub fn ids(outs: &[(u32, f64)]) -> Vec<u32> {
    outs.iter().map(|(id, _)| *id).collect()
}
