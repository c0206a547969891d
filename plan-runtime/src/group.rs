//! Running a group of branches concurrently inside the plan's own task: the engine behind
//! `par` and `each`. Policies decide what to keep and when to stop ([`GroupPolicy`]); the engine
//! enforces `limit` and the group deadline, and drops every unfinished branch before it
//! returns.

use std::future::{Future, poll_fn};
use std::ops::ControlFlow;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt as _};
use plan_core::{Cx, NodeRef, ParallelSpec, PlanError, PolicyKind};

use crate::cut_off::{BranchNames, CutOff};
use crate::node::{catch_panic_in, catch_panics};

/// A parallel policy, whatever its branches produce.
pub trait ParallelPolicy: Send + Sync {
    /// The policy as a value, for graphs and specs.
    fn policy(&self) -> PolicyKind;
}

/// Policies whose branches must all produce the same type (all but `all` and `settled` in a
/// `par`, whose branches may differ).
pub trait Uniform: ParallelPolicy {}

/// A parallel policy: folds branch outcomes, in completion order, into the group's result.
///
/// Implemented by the policy types in [`policy`](crate::policy).
pub trait GroupPolicy<O>: ParallelPolicy {
    /// What the policy keeps while branches finish.
    type State: Send;
    /// The group's output.
    type Out: Send;

    /// Whether [`GroupPolicy::end`] needs to know how many branches the deadline kept from starting
    /// (only `settled`, which reports every branch: counting them consumes the input).
    const COUNTS_CUT_OFF: bool = false;

    /// Fresh state for a group of about `branches` branches.
    fn begin(&self, branches: usize) -> Self::State;

    /// The group has exactly `branches` branches: told once, as soon as that is known (at
    /// once for a `par`, when its input runs out for an `each`). `Break` stops the group, as
    /// from [`GroupPolicy::finished`]: a `quorum` that can no longer be reached.
    fn counted(&self, state: &mut Self::State, branches: usize) -> ControlFlow<()> {
        let _ = (state, branches);
        ControlFlow::Continue(())
    }

    /// Records branch `index`'s outcome; `Break` stops the group (the rest are cancelled).
    fn finished(
        &self,
        state: &mut Self::State,
        index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()>;

    /// The result once the group stopped: every branch finished, the policy broke off, or
    /// the group deadline passed (`cut_off`). `branches` counts the branches that finished or
    /// were cut off, and names them.
    fn end<C>(
        &self,
        state: Self::State,
        branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<Self::Out, PlanError>;
}

/// The branches of a group that stopped, as [`GroupPolicy::end`] sees them: how many there
/// were, and their names, for an error that lists them (a `quorum`'s votes).
pub struct Branches<'a> {
    count: usize,
    names: BranchNames<'a>,
}

impl Branches<'_> {
    /// How many branches finished or were cut off (for an `each` that stopped early, the
    /// items it had started).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there were none (an `each` over nothing).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Names branch `index` (an `each` item: the body).
    pub fn name(&self, index: usize) -> NodeRef {
        (self.names)(index)
    }
}

impl std::fmt::Debug for Branches<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branches")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// The most result slots reserved up front from an input's size hint.
const PREALLOCATE_AT_MOST: usize = 4096;

/// Runs `branches` under `spec` and folds their outcomes with `policy`; `names` names the
/// branches the deadline cuts off.
///
/// Branches are started in order, at most `spec.limit` at a time, and polled only when woken.
/// Whatever is still running when this returns has been dropped: by the time the caller sees
/// the result, no branch of the group is alive.
pub(crate) async fn run_group<O, G, F, C>(
    branches: impl IntoIterator<Item = F>,
    spec: &ParallelSpec,
    policy: &G,
    cx: &Cx<'_, C>,
    names: BranchNames<'_>,
) -> Result<G::Out, PlanError>
where
    G: GroupPolicy<O>,
    F: Future<Output = Result<O, PlanError>>,
{
    let mut pending = branches.into_iter();
    let limit = spec.limit.unwrap_or(usize::MAX);
    // The size hint sizes result buffers; an endless input must not ask for an endless one.
    let mut state = policy.begin(pending.size_hint().0.min(PREALLOCATE_AT_MOST));
    let mut running = FuturesUnordered::new();
    let mut started = 0;
    let mut deadline = pin!(spec.timeout.map(tokio::time::sleep));
    let mut timed_out = None;
    // Whether the policy knows how many branches there are: from an exact size hint, else
    // once the input runs out.
    let mut counted = match pending.size_hint() {
        (low, Some(high)) if low == high => {
            if policy.counted(&mut state, low).is_break() {
                return end_early(policy, state, cx, names);
            }
            true
        }
        _ => false,
    };
    let mut exhausted = false;

    loop {
        while running.len() < limit && !exhausted {
            let Some(branch) = pending.next() else {
                exhausted = true;
                break;
            };
            let index = started;
            started += 1;
            // A panicking branch is that branch's failure: siblings keep running under the
            // policy (`settled` keeps their outcomes).
            running.push(Numbered {
                index,
                run: catch_panics(*cx, branch),
            });
        }
        if exhausted
            && !std::mem::replace(&mut counted, true)
            && policy.counted(&mut state, started).is_break()
        {
            break;
        }
        let next = poll_fn(|task| {
            if let Poll::Ready(next) = running.poll_next_unpin(task) {
                return Poll::Ready(Some(next));
            }
            match deadline.as_mut().as_pin_mut().map(|sleep| sleep.poll(task)) {
                Some(Poll::Ready(())) => Poll::Ready(None),
                _ => Poll::Pending,
            }
        })
        .await;
        match next {
            Some(Some((index, outcome))) => {
                branch_done(cx);
                if policy.finished(&mut state, index, outcome).is_break() {
                    break;
                }
            }
            // Nothing running and nothing left to start.
            Some(None) => break,
            None => {
                timed_out = spec.timeout;
                deadline_passed(cx, timed_out);
                break;
            }
        }
    }
    drop(running);
    // Settled groups report every branch, including those the deadline kept from starting.
    let branches = if timed_out.is_some() && G::COUNTS_CUT_OFF {
        started + pending.count()
    } else {
        started
    };
    let cut_off = timed_out.map(|after| CutOff::new(after, cx, names));
    let branches = Branches {
        count: branches,
        names,
    };
    policy.end(state, &branches, cut_off.as_ref(), cx)
}

/// Ends a group that its policy stopped before any branch started.
fn end_early<O, G: GroupPolicy<O>, C>(
    policy: &G,
    state: G::State,
    cx: &Cx<'_, C>,
    names: BranchNames<'_>,
) -> Result<G::Out, PlanError> {
    let branches = Branches { count: 0, names };
    policy.end(state, &branches, None, cx)
}

pin_project_lite::pin_project! {
    /// A branch of [`run_group`] that says which branch it was when it finishes. A struct, not
    /// an `async move` block: the block would keep the branch future twice, once as its
    /// capture and once being awaited, doubling the memory of every branch.
    struct Numbered<F> {
        index: usize,
        #[pin]
        run: F,
    }
}

impl<F: Future> Future for Numbered<F> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, task: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.run.poll(task).map(|out| (*this.index, out))
    }
}

/// A branch future with its output erased to `O`, pinned on the group's stack.
pub(crate) type Branch<'f, O> =
    Pin<&'f mut (dyn Future<Output = Result<O, PlanError>> + Send + 'f)>;

/// [`run_group`] for a fixed, small set of branches (`par`): polls them where they are pinned,
/// join-style, with no allocation per branch. Every wake polls each running branch once —
/// fine for the dozen branches a `par` may have; `each` uses [`run_group`], which polls only
/// woken branches.
pub(crate) async fn run_group_fixed<O, G, C, const N: usize>(
    branches: [Branch<'_, O>; N],
    spec: &ParallelSpec,
    policy: &G,
    cx: &Cx<'_, C>,
    names: BranchNames<'_>,
) -> Result<G::Out, PlanError>
where
    G: GroupPolicy<O>,
{
    let mut slots = branches.map(Some);
    let limit = spec.limit.unwrap_or(N);
    let mut state = policy.begin(N);
    if policy.counted(&mut state, N).is_break() {
        return end_early(policy, state, cx, names);
    }
    let mut started = limit.min(N);
    let mut running = started;
    let mut deadline = pin!(spec.timeout.map(tokio::time::sleep));
    let timed_out = poll_fn(|task| {
        let mut index = 0;
        while index < started {
            let Some(branch) = slots[index].as_mut() else {
                index += 1;
                continue;
            };
            let poll = catch_panic_in(cx, || branch.as_mut().poll(task));
            if let Poll::Ready(outcome) = poll {
                slots[index] = None;
                running -= 1;
                branch_done(cx);
                if policy.finished(&mut state, index, outcome).is_break() {
                    return Poll::Ready(None);
                }
                if started < N {
                    // A slot freed up: start the next branch; the loop reaches it this pass.
                    started += 1;
                    running += 1;
                }
            }
            index += 1;
        }
        if running == 0 {
            return Poll::Ready(None);
        }
        match deadline.as_mut().as_pin_mut().map(|sleep| sleep.poll(task)) {
            Some(Poll::Ready(())) => Poll::Ready(spec.timeout),
            _ => Poll::Pending,
        }
    })
    .await;
    deadline_passed(cx, timed_out);
    // The branch futures live in the caller's frame (`par`), which drops them — running
    // their destructors — when it completes, before it returns.
    let cut_off = timed_out.map(|after| CutOff::new(after, cx, names));
    let branches = Branches { count: N, names };
    policy.end(state, &branches, cut_off.as_ref(), cx)
}

/// Tells the run's monitor, if any, that a branch of the group being polled finished.
fn branch_done<C>(cx: &Cx<'_, C>) {
    if let Some(monitor) = cx.monitor() {
        monitor.branch_done();
    }
}

/// Tells the run's monitor, if any, that the group's deadline passed.
fn deadline_passed<C>(cx: &Cx<'_, C>, timed_out: Option<Duration>) {
    if let (Some(monitor), Some(after)) = (cx.monitor(), timed_out) {
        monitor.deadline(after);
    }
}
