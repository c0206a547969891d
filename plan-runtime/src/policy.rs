//! The parallel policies of `par` and `each`, as types: each decides what a group keeps and
//! when it stops.
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! async fn fast(q: u32) -> Result<u32, String> { Err(format!("no answer for {q}")) }
//! async fn slow(q: u32) -> Result<u32, String> {
//!     tokio::time::sleep(Duration::from_millis(5)).await;
//!     Ok(q + 1)
//! }
//! fn length(s: &String) -> usize { s.len() }
//! fn short(q: u32) -> String { q.to_string() }
//! fn long(q: u32) -> String { format!("{q} is the answer") }
//!
//! // `first`: the first *success* wins; the failing `fast` is ignored.
//! let first = plan! { par(first) { fast, slow } };
//! // `n_best`: ranked by score, best first.
//! let ranked = plan! { par(n_best(2, by = length)) { short, long } };
//! // `quorum`: the first two that agree (here on their length).
//! let agreed = plan! { par(quorum(2, by = length)) { short, long, short } };
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! assert_eq!(rt.block_on(first.run(41)).unwrap(), 42);
//! assert_eq!(rt.block_on(ranked.run(42)).unwrap(), ["42 is the answer", "42"]);
//! assert_eq!(rt.block_on(agreed.run(42)).unwrap().voters, [0, 2]);
//! ```
//!
//! In a run with a monitor ([`Run::monitor`](crate::Run::monitor)), `n_best` and `best` note
//! their ranking on the group (under `"ranks"`: each branch's score and rank, or that it
//! failed), and `settled` each branch's outcome (under `"outcomes"`), where a run report
//! keeps them ([`NodeRecord::notes`](crate::report::NodeRecord::notes)). Without one they
//! cost nothing.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::ops::ControlFlow;

use plan_core::{Cx, NodeRef, PlanError, PolicyKind};

use crate::cut_off::CutOff;
use crate::group::{Branches, GroupPolicy, ParallelPolicy, Uniform};

mod quorum;

pub use quorum::{Agreement, By, Quorum, QuorumPolicy, Whole, quorum};

/// `all`: every branch must succeed; the first error cancels the rest and is returned.
#[derive(Clone, Copy, Debug, Default)]
pub struct All;

/// `settled`: every branch's outcome is kept; the group never fails as a whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct Settled;

/// `first`: the first success wins and the rest are cancelled; if every branch fails, the
/// group fails with [`PlanError::AllFailed`].
#[derive(Clone, Copy, Debug, Default)]
pub struct First;

/// `first_completed`: the first branch to finish decides, success or error.
#[derive(Clone, Copy, Debug, Default)]
pub struct FirstCompleted;

/// `n_best(n, by = score)`: the best `n` successes by `score`, best (highest) first, ties in
/// branch order; a score that is not comparable with itself (NaN) ranks last. The score is
/// `Debug`, for the ranking a monitor is told.
#[derive(Clone, Copy, Debug)]
pub struct NBest<F> {
    n: usize,
    score: F,
}

/// `best(by = score)`: [`NBest`] with `n = 1`, returning the one value.
#[derive(Clone, Copy, Debug)]
pub struct Best<F> {
    ranking: NBest<F>,
}

/// The `n_best(n, by = score)` policy.
pub fn n_best<F>(n: usize, score: F) -> NBest<F> {
    NBest { n, score }
}

/// The `best(by = score)` policy.
pub fn best<F>(score: F) -> Best<F> {
    Best {
        ranking: n_best(1, score),
    }
}

impl ParallelPolicy for All {
    fn policy(&self) -> PolicyKind {
        PolicyKind::All
    }
}

impl ParallelPolicy for Settled {
    fn policy(&self) -> PolicyKind {
        PolicyKind::Settled
    }
}

impl ParallelPolicy for First {
    fn policy(&self) -> PolicyKind {
        PolicyKind::First
    }
}

impl ParallelPolicy for FirstCompleted {
    fn policy(&self) -> PolicyKind {
        PolicyKind::FirstCompleted
    }
}

impl<F: Send + Sync> ParallelPolicy for NBest<F> {
    fn policy(&self) -> PolicyKind {
        PolicyKind::NBest(self.n)
    }
}

impl<F: Send + Sync> ParallelPolicy for Best<F> {
    fn policy(&self) -> PolicyKind {
        PolicyKind::Best
    }
}

impl Uniform for First {}
impl Uniform for FirstCompleted {}
impl<F: Send + Sync> Uniform for NBest<F> {}
impl<F: Send + Sync> Uniform for Best<F> {}

/// Outcomes stored by branch index.
fn store<T>(slots: &mut Vec<Option<T>>, index: usize, value: T) {
    if slots.len() <= index {
        slots.resize_with(index + 1, || None);
    }
    slots[index] = Some(value);
}

impl<O: Send> GroupPolicy<O> for All {
    type State = (Vec<Option<O>>, Option<PlanError>);
    type Out = Vec<O>;

    fn begin(&self, branches: usize) -> Self::State {
        (Vec::with_capacity(branches), None)
    }

    fn finished(
        &self,
        (values, error): &mut Self::State,
        index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()> {
        match outcome {
            Ok(value) => {
                store(values, index, value);
                ControlFlow::Continue(())
            }
            Err(err) => {
                *error = Some(err);
                ControlFlow::Break(())
            }
        }
    }

    fn end<C>(
        &self,
        (values, error): Self::State,
        _branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        _cx: &Cx<'_, C>,
    ) -> Result<Vec<O>, PlanError> {
        if let Some(err) = error {
            return Err(err);
        }
        if let Some(cut_off) = cut_off {
            return Err(cut_off.group_timed_out());
        }
        Ok(values.into_iter().flatten().collect())
    }
}

impl<O: Send> GroupPolicy<O> for Settled {
    type State = Vec<Option<Result<O, PlanError>>>;
    type Out = Vec<Result<O, PlanError>>;

    const COUNTS_CUT_OFF: bool = true;

    fn begin(&self, branches: usize) -> Self::State {
        Vec::with_capacity(branches)
    }

    fn finished(
        &self,
        outcomes: &mut Self::State,
        index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()> {
        store(outcomes, index, outcome);
        ControlFlow::Continue(())
    }

    fn end<C>(
        &self,
        outcomes: Self::State,
        branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<Self::Out, PlanError> {
        let outcomes = settle(outcomes, branches.len(), cut_off);
        note_outcomes(cx, outcomes.iter().map(|outcome| outcome.as_ref().err()));
        Ok(outcomes)
    }
}

/// `settled` for a `par`, whose branches keep their outcomes themselves (they differ in
/// type): it marks the branches the deadline cut off, and notes nothing — the `par` notes
/// the outcomes ([`note_outcomes`]) once it has them.
pub(crate) struct Marks;

impl ParallelPolicy for Marks {
    fn policy(&self) -> PolicyKind {
        PolicyKind::Settled
    }
}

impl GroupPolicy<()> for Marks {
    type State = Vec<Option<Result<(), PlanError>>>;
    type Out = Vec<Result<(), PlanError>>;

    const COUNTS_CUT_OFF: bool = true;

    fn begin(&self, branches: usize) -> Self::State {
        Vec::with_capacity(branches)
    }

    fn finished(
        &self,
        outcomes: &mut Self::State,
        index: usize,
        outcome: Result<(), PlanError>,
    ) -> ControlFlow<()> {
        store(outcomes, index, outcome);
        ControlFlow::Continue(())
    }

    fn end<C>(
        &self,
        outcomes: Self::State,
        branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        _cx: &Cx<'_, C>,
    ) -> Result<Self::Out, PlanError> {
        Ok(settle(outcomes, branches.len(), cut_off))
    }
}

/// Every branch's outcome, in branch order; those the deadline cut off (started or not),
/// timed out.
fn settle<O>(
    mut outcomes: Vec<Option<Result<O, PlanError>>>,
    branches: usize,
    cut_off: Option<&CutOff<'_>>,
) -> Vec<Result<O, PlanError>> {
    // Without a deadline, every branch that started has finished.
    let Some(cut_off) = cut_off else {
        return outcomes.into_iter().flatten().collect();
    };
    outcomes.resize_with(branches.max(outcomes.len()), || None);
    outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| outcome.unwrap_or_else(|| Err(cut_off.branch_timed_out(index))))
        .collect()
}

/// Notes a `settled` group's outcomes, given by their errors in branch order, under
/// `"outcomes"`: `ok, failed (step), timed out`. Only with a monitor.
pub(crate) fn note_outcomes<'e, C>(
    cx: &Cx<'_, C>,
    errors: impl Iterator<Item = Option<&'e PlanError>>,
) {
    let Some(monitor) = cx.monitor() else { return };
    let said = errors.map(|error| match error {
        None => "ok".to_owned(),
        Some(err) if err.is_timeout() => "timed out".to_owned(),
        Some(err) => format!("failed ({})", err.kind()),
    });
    monitor.note("outcomes", &listing(said));
}

impl<O: Send> GroupPolicy<O> for First {
    type State = (Option<O>, Vec<(usize, PlanError)>);
    type Out = O;

    fn begin(&self, _branches: usize) -> Self::State {
        (None, Vec::new())
    }

    fn finished(
        &self,
        (winner, errors): &mut Self::State,
        index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()> {
        match outcome {
            Ok(value) => {
                *winner = Some(value);
                ControlFlow::Break(())
            }
            Err(err) => {
                errors.push((index, err));
                ControlFlow::Continue(())
            }
        }
    }

    fn end<C>(
        &self,
        (winner, errors): Self::State,
        _branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<O, PlanError> {
        match winner {
            Some(value) => Ok(value),
            None => Err(match cut_off {
                Some(cut_off) => cut_off.group_timed_out(),
                None => all_failed(errors, cx),
            }),
        }
    }
}

pub(crate) fn all_failed<C>(mut errors: Vec<(usize, PlanError)>, cx: &Cx<'_, C>) -> PlanError {
    errors.sort_by_key(|(index, _)| *index);
    PlanError::AllFailed {
        node: NodeRef::current(cx).into(),
        errors: errors.into_iter().map(|(_, err)| err).collect(),
    }
}

impl<O: Send> GroupPolicy<O> for FirstCompleted {
    type State = Option<Result<O, PlanError>>;
    type Out = O;

    fn begin(&self, _branches: usize) -> Self::State {
        None
    }

    fn finished(
        &self,
        first: &mut Self::State,
        _index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()> {
        *first = Some(outcome);
        ControlFlow::Break(())
    }

    fn end<C>(
        &self,
        first: Self::State,
        _branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<O, PlanError> {
        first.unwrap_or_else(|| {
            Err(match cut_off {
                Some(cut_off) => cut_off.group_timed_out(),
                // No branch at all (an `each` over nothing).
                None => all_failed(Vec::new(), cx),
            })
        })
    }
}

/// Successes with their scores, and errors, by branch index.
#[doc(hidden)]
pub struct Ranked<K, O> {
    successes: Vec<(usize, K, O)>,
    errors: Vec<(usize, PlanError)>,
}

/// Whether score `a` ranks strictly before score `b`: higher first, and a score that is not
/// comparable with itself (NaN) after every other.
fn beats<K: PartialOrd>(a: &K, b: &K) -> bool {
    let a_ok = a.partial_cmp(a).is_some();
    let b_ok = b.partial_cmp(b).is_some();
    match (a_ok, b_ok) {
        (true, true) => a.partial_cmp(b) == Some(Ordering::Greater),
        (ok, _) => ok,
    }
}

impl<K, O> Ranked<K, O> {
    fn record<F>(&mut self, score: &F, index: usize, outcome: Result<O, PlanError>)
    where
        F: Fn(&O) -> K,
    {
        match outcome {
            Ok(value) => self.successes.push((index, score(&value), value)),
            Err(err) => self.errors.push((index, err)),
        }
    }

    /// The best `n`, best first. Each success, in branch order, goes before the first kept
    /// one it strictly beats: ties keep branch order, and a partial order (scores neither
    /// better nor worse than each other) can never make ranking fail, as a sort could.
    /// `branches` counts those that finished or were cut off.
    fn into_best<C>(
        mut self,
        n: usize,
        branches: usize,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<Vec<O>, PlanError>
    where
        K: PartialOrd + fmt::Debug,
    {
        let none_succeeded = self.successes.is_empty();
        self.successes.sort_by_key(|(index, ..)| *index);
        let mut best: Vec<(usize, K, O)> = Vec::with_capacity(n.min(self.successes.len()));
        // Only for a monitor: the successes left out, with their scores.
        let mut left_out = Vec::new();
        let noting = cx.monitor().is_some();
        for (index, key, value) in self.successes {
            let at = best
                .iter()
                .position(|(_, kept, _)| beats(&key, kept))
                .unwrap_or(best.len());
            if at < n {
                best.insert(at, (index, key, value));
                if best.len() > n
                    && let Some((index, key, _)) = best.pop()
                    && noting
                {
                    left_out.push((index, key));
                }
            } else if noting {
                left_out.push((index, key));
            }
        }
        if let Some(monitor) = cx.monitor() {
            let cut = cut_off.map_or(0, |_| branches);
            monitor.note("ranks", &ranking(&best, left_out, &self.errors, cut));
        }
        if none_succeeded {
            return Err(match cut_off {
                Some(cut_off) => cut_off.group_timed_out(),
                None => all_failed(self.errors, cx),
            });
        }
        Ok(best.into_iter().map(|(.., value)| value).collect())
    }
}

/// The ranking, for a monitor: `branch 2: 0.91 (1st), branch 0: 0.5 (2nd), branch 3: 0.2 (not
/// kept), branch 1 failed (step)`, the kept best first, then the others in branch order; of
/// the first `cut` branches, those that had not finished when the deadline passed `timed out`.
fn ranking<K: fmt::Debug, O>(
    best: &[(usize, K, O)],
    left_out: Vec<(usize, K)>,
    errors: &[(usize, PlanError)],
    cut: usize,
) -> String {
    let mut others: Vec<(usize, String)> = left_out
        .into_iter()
        .map(|(index, key)| (index, format!("branch {index}: {key:?} (not kept)")))
        .chain(
            errors
                .iter()
                .map(|(index, err)| (*index, format!("branch {index} failed ({})", err.kind()))),
        )
        .collect();
    let finished = best.len() + others.len();
    if finished < cut {
        let mut done = vec![false; cut];
        let indices = best.iter().map(|(index, ..)| *index);
        for index in indices.chain(others.iter().map(|(index, _)| *index)) {
            if let Some(done) = done.get_mut(index) {
                *done = true;
            }
        }
        let timed_out = (0..cut).filter(|&index| !done[index]);
        others.extend(timed_out.map(|index| (index, format!("branch {index} timed out"))));
    }
    others.sort_by_key(|(index, _)| *index);
    let kept = best
        .iter()
        .enumerate()
        .map(|(rank, (index, key, _))| format!("branch {index}: {key:?} ({})", ordinal(rank + 1)));
    listing(kept.chain(others.into_iter().map(|(_, said)| said)))
}

/// The most items a note lists: an `each` over thousands says how many more there were.
const LISTED: usize = 32;

/// `items`, comma-separated, at most [`LISTED`] of them.
fn listing(items: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    let mut more = 0usize;
    for (n, item) in items.enumerate() {
        if n >= LISTED {
            more += 1;
            continue;
        }
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(&item);
    }
    if more > 0 {
        // Writing to a `String` cannot fail.
        let _ = write!(out, ", and {more} more");
    }
    out
}

/// `1st`, `2nd`, `3rd`, `4th`, …, `11th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl<O, K, F> GroupPolicy<O> for NBest<F>
where
    O: Send,
    K: PartialOrd + fmt::Debug + Send,
    F: Fn(&O) -> K + Send + Sync,
{
    type State = Ranked<K, O>;
    type Out = Vec<O>;

    fn begin(&self, branches: usize) -> Self::State {
        Ranked {
            successes: Vec::with_capacity(branches),
            errors: Vec::new(),
        }
    }

    fn finished(
        &self,
        state: &mut Self::State,
        index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()> {
        state.record(&self.score, index, outcome);
        ControlFlow::Continue(())
    }

    fn end<C>(
        &self,
        state: Self::State,
        branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<Vec<O>, PlanError> {
        state.into_best(self.n, branches.len(), cut_off, cx)
    }
}

impl<O, K, F> GroupPolicy<O> for Best<F>
where
    O: Send,
    K: PartialOrd + fmt::Debug + Send,
    F: Fn(&O) -> K + Send + Sync,
{
    type State = Ranked<K, O>;
    type Out = O;

    fn begin(&self, branches: usize) -> Self::State {
        self.ranking.begin(branches)
    }

    fn finished(
        &self,
        state: &mut Self::State,
        index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()> {
        self.ranking.finished(state, index, outcome)
    }

    fn end<C>(
        &self,
        state: Self::State,
        branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<O, PlanError> {
        let mut best = self.ranking.end(state, branches, cut_off, cx)?;
        Ok(best.remove(0))
    }
}
