//! The hooks through which a run can be watched: nodes starting and ending, retries, deadlines
//! and parallel branches finishing.

use std::time::Duration;

use crate::error::PlanError;
use crate::node::NodeInfo;

/// Receives what happens during one run, as it happens. `plan-runtime`'s `Recorder` implements
/// it to build run reports and progress events; most users never implement it themselves.
///
/// A monitor is reached through [`Cx::monitor`](crate::Cx::monitor); without one (the
/// default), none of these hooks is called and a run pays nothing for them.
///
/// Node *instances* have ids: a step inside a loop or an `each` starts once per pass or item,
/// and each start is a new instance. A node's parent is the instance that was being polled when
/// it started: [`Monitor::enter`] and [`Monitor::leave`] bracket every poll of an instance, and
/// polls nest as nodes do, so a per-thread stack of entered ids gives the parent. (A task is
/// polled on one thread at a time, and every `enter` is matched by a `leave` within the same
/// poll, even when it unwinds.) [`Monitor::retry`], [`Monitor::deadline`],
/// [`Monitor::branch_done`], [`Monitor::waited`] and [`Monitor::count`] concern the instance being polled; they do
/// nothing by default.
///
/// A custom monitor is passed to a run through its context:
/// `plan.call(input, Cx::root(&ctx).monitored(&monitor))`, where `monitor: &dyn Monitor`.
///
/// ```
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use plan_core::{Cx, Describe, Monitor, NodeInfo, NodeKind, Plan, PlanError, Ended};
///
/// /// Counts starts.
/// #[derive(Default)]
/// struct Starts(Mutex<Vec<&'static str>>);
///
/// impl Monitor for Starts {
///     fn start(&self, node: &'static NodeInfo) -> usize {
///         let mut starts = self.0.lock().unwrap();
///         starts.push(node.name);
///         starts.len() - 1
///     }
///     fn enter(&self, _id: usize) {}
///     fn leave(&self, _id: usize) {}
///     fn end(&self, _id: usize, _how: Ended<'_>) {}
/// }
///
/// static ROOT: NodeInfo = NodeInfo::new("root", NodeKind::Plan, "");
/// let starts = Starts::default();
/// let monitor: &dyn Monitor = &starts;
/// let cx = Cx::root(&()).monitored(&monitor);
/// assert!(cx.monitor().is_some());
/// assert_eq!(monitor.start(&ROOT), 0);
/// ```
pub trait Monitor: Sync {
    /// `node` starts (its first poll); returns the id of this instance.
    fn start(&self, node: &'static NodeInfo) -> usize;

    /// Instance `id` is about to be polled, on this thread.
    fn enter(&self, id: usize);

    /// The poll of instance `id` that [`Monitor::enter`] announced is over (or unwinding).
    fn leave(&self, id: usize);

    /// Instance `id` ended.
    fn end(&self, id: usize, how: Ended<'_>);

    /// The instance being polled failed with `error` and will run again; `attempt` is the
    /// number of the attempt that failed (1 for the first).
    fn retry(&self, attempt: u32, error: &PlanError) {
        let _ = (attempt, error);
    }

    /// The deadline of the instance being polled passed (`#[timeout]` or a group `timeout`).
    fn deadline(&self, after: Duration) {
        let _ = after;
    }

    /// One branch of the `par`/`each` group being polled finished (success or error).
    fn branch_done(&self) {}

    /// The instance being polled waited `duration` for `on` (`"rate limit"`,
    /// `"concurrency limit"`): time it spent admitted to the run but held back by a limit
    /// shared with other work. Called by such limits (`plan-tools`), once per wait, only when
    /// they did wait.
    fn waited(&self, on: &'static str, duration: Duration) {
        let _ = (on, duration);
    }

    /// Adds `amount` to the instance being polled's counter `counter`: what a tool spent or
    /// did (`"tokens_in"`, `"tokens_out"`, `"dollars"`, `"requests"`, `"requests_ok"`,
    /// `"retries"`). Called by tools (`plan-tools`); a run report sums the counters per
    /// instance.
    fn count(&self, counter: &'static str, amount: f64) {
        let _ = (counter, amount);
    }

    /// Says `value` of the instance being polled under `key`: where it ran (`"worker"`, for a
    /// step run on a worker process), how a group's policy resolved (`"ranks"` of `n_best`
    /// and `best`, `"outcomes"` of `settled`). A later note under the same key replaces it;
    /// a run report keeps the notes per instance.
    fn note(&self, key: &'static str, value: &str) {
        let _ = (key, value);
    }
}

/// How a node instance ended.
#[derive(Clone, Copy, Debug)]
pub enum Ended<'e> {
    /// It returned a value.
    Ok,
    /// It returned an error.
    Err(&'e PlanError),
    /// A panic unwound through it.
    Panicked,
    /// It was dropped before finishing: a loser, a cancelled sibling, a timed-out node, or a
    /// run dropped from outside.
    Dropped,
}
