//! How a case's output is scored: [`Scorer`], with [`Exact`] (the default), any
//! `Fn(&O, &E) -> f64`, and [`ScoringPlan`] (a plan that scores, such as a model as judge).

use std::future::Future;

use plan_core::{Plan, PlanError};

use super::Case;
use crate::run::PlanExt;

/// Scores a case's output: a number in `0..=1` (an [`Eval`](super::Eval)'s threshold decides
/// whether it passes), or an error, which fails the case.
///
/// Implemented by [`Exact`], by closures `Fn(&O, &E) -> f64` of the output and the expected
/// value, and by [`ScoringPlan`].
///
/// ```
/// use plan_runtime::eval::{Case, Exact, Scorer};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let case = Case { id: "1".into(), input: "hi", expected: "HI".to_owned() };
/// assert_eq!(Exact.score(&case, &"HI".to_owned()).await.unwrap(), 1.0);
/// let length = |out: &String, expected: &String| out.len().min(expected.len()) as f64 / expected.len() as f64;
/// assert_eq!(length.score(&case, &"H".to_owned()).await.unwrap(), 0.5);
/// # });
/// ```
pub trait Scorer<I, O, E>: Sync {
    /// The score of `output` for `case`.
    fn score(
        &self,
        case: &Case<I, E>,
        output: &O,
    ) -> impl Future<Output = Result<f64, PlanError>> + Send;
}

/// Scores 1 when the output equals the expected value, else 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exact;

impl<I: Sync, O: PartialEq<E> + Sync, E: Sync> Scorer<I, O, E> for Exact {
    fn score(
        &self,
        case: &Case<I, E>,
        output: &O,
    ) -> impl Future<Output = Result<f64, PlanError>> + Send {
        std::future::ready(Ok(if *output == case.expected { 1.0 } else { 0.0 }))
    }
}

impl<I: Sync, O: Sync, E: Sync, F: Fn(&O, &E) -> f64 + Sync> Scorer<I, O, E> for F {
    fn score(
        &self,
        case: &Case<I, E>,
        output: &O,
    ) -> impl Future<Output = Result<f64, PlanError>> + Send {
        std::future::ready(Ok(self(output, &case.expected)))
    }
}

/// A plan as a scorer: it runs on `(input, output, expected)` (cloned) and returns the score,
/// so that scoring may itself call tools (a model as judge). A failed scoring run fails the
/// case with its error. What it counts (tokens, dollars) is not added to the case's.
///
/// ```
/// use plan_runtime::eval::{Case, Scorer, ScoringPlan};
/// use plan_runtime::prelude::*;
///
/// fn overlap((_, out, expected): (String, String, String)) -> f64 {
///     let words = expected.split(' ').count() as f64;
///     expected.split(' ').filter(|w| out.contains(w)).count() as f64 / words
/// }
/// let judge = ScoringPlan(plan! { overlap });
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let case = Case { id: "1".into(), input: String::new(), expected: "red fox".to_owned() };
/// assert_eq!(judge.score(&case, &"a red hen".to_owned()).await.unwrap(), 0.5);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct ScoringPlan<P>(pub P);

impl<I, O, E, P> Scorer<I, O, E> for ScoringPlan<P>
where
    I: Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
    P: Plan<(I, O, E), Out = f64>,
{
    fn score(
        &self,
        case: &Case<I, E>,
        output: &O,
    ) -> impl Future<Output = Result<f64, PlanError>> + Send {
        self.0
            .run((case.input.clone(), output.clone(), case.expected.clone()))
    }
}
