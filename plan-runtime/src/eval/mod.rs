//! Evals: a plan run over a dataset of cases, each scored, with per-case and summary results
//! as CSV and Markdown, and two plans compared side by side.
//!
//! A [`Dataset`] is JSON Lines of `{"input": …, "expected": …}`. An [`Eval`] runs a plan on
//! every case, at most [`limit`](Eval::limit) at once (in the calling task, as `each` runs
//! its items), scores each output ([`Exact`] by default; any [`Scorer`]: a closure, or a
//! [`ScoringPlan`] such as a model as judge), and passes the cases whose score reaches its
//! [`threshold`](Eval::threshold). Each case keeps its wall time and what its run report
//! counted (`tokens_in`, `tokens_out`, `requests`, `dollars`: see
//! [`Monitor::count`](crate::Monitor::count)). A case whose plan fails is a failed case,
//! with its error and the node that failed; the eval goes on.
//!
//! ```
//! use plan_runtime::eval::{Comparison, Dataset, Eval};
//! use plan_runtime::prelude::*;
//!
//! fn double(n: u32) -> u32 { n * 2 }
//! fn square(n: u32) -> u32 { n * n }
//! fn nonzero(n: u32) -> Result<u32, &'static str> { if n == 0 { Err("zero") } else { Ok(n) } }
//!
//! let dataset: Dataset<u32, u32> = Dataset::parse(
//!     "{\"input\": 2, \"expected\": 4}\n{\"input\": 3, \"expected\": 6}\n{\"input\": 0, \"expected\": 0}",
//! ).unwrap();
//! let eval = Eval::new().limit(2);
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let a = eval.run("square", &plan! { nonzero >> square }, &dataset).await;
//! let b = eval.run("double", &plan! { nonzero >> double }, &dataset).await;
//! assert_eq!((a.summary().passed, b.summary().passed), (1, 2));
//! assert_eq!(b.cases[2].node.as_deref(), Some("nonzero")); // failed, naming its node
//!
//! let comparison = Comparison::new(a, b).unwrap();
//! assert!(comparison.to_markdown().contains("| mean score | 0.3333 | 0.6667 | +0.3333 |"));
//! # });
//! ```
//!
//! [`Results::write`] and [`Comparison::write`] write the CSV and Markdown files into a
//! directory; the rows are in dataset order whatever order the cases finished in, so the
//! files of two runs differ only where the runs did (and in wall times). `cargo run
//! --example eval -- --dataset FILE --out DIR` compares one draft with the best of three.

mod compare;
mod csv;
mod dataset;
mod results;
mod score;

use std::path::PathBuf;

use futures::StreamExt;
use plan_core::{Plan, PlanError};
use serde::Serialize;
use tokio::time::Instant;

pub use compare::Comparison;
pub use dataset::{Case, Dataset};
pub use results::{CaseResult, Results, Summary};
pub use score::{Exact, Scorer, ScoringPlan};

use crate::run::{Options, PlanExt};

/// What went wrong reading a dataset, writing results, or comparing two results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A line of the dataset is not a case (`{"input": …, "expected": …}`, optionally
    /// `"id"`).
    #[error("dataset line {line}: {source}")]
    Case {
        /// The line's number, from 1.
        line: usize,
        /// What serde found wrong.
        source: serde_json::Error,
    },
    /// The dataset has no case.
    #[error("the dataset has no case")]
    Empty,
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file (or directory).
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Two results compared are not of the same cases.
    #[error("the results are not of the same cases: case {at} is `{a}` in A and `{b}` in B")]
    Mismatch {
        /// The position (from 1) of the first case that differs.
        at: usize,
        /// A's case there (`none` past its end).
        a: String,
        /// B's case there.
        b: String,
    },
}

/// How to run an eval: the scorer, the pass threshold, how many cases at once, and the
/// options of each case's run (a deadline, a budget, values for tools). See the
/// [module](self) for an example.
#[derive(Clone)]
pub struct Eval<S = Exact> {
    scorer: S,
    threshold: f64,
    limit: usize,
    options: Options,
}

impl Default for Eval {
    fn default() -> Self {
        Eval::new()
    }
}

impl Eval {
    /// Exact match, threshold 1, four cases at once, no options.
    pub fn new() -> Self {
        Eval {
            scorer: Exact,
            threshold: 1.0,
            limit: 4,
            options: Options::new(),
        }
    }
}

impl<S> Eval<S> {
    /// Scores outputs with `scorer`.
    ///
    /// ```
    /// use plan_runtime::eval::{Dataset, Eval};
    /// use plan_runtime::prelude::*;
    ///
    /// fn answer(q: String) -> String { format!("{q}!") }
    /// let dataset: Dataset<String, String> =
    ///     Dataset::parse(r#"{"input": "hi", "expected": "hi"}"#).unwrap();
    /// let eval = Eval::new()
    ///     .score_with(|out: &String, expected: &String| if out.starts_with(expected.as_str()) { 0.8 } else { 0.0 })
    ///     .threshold(0.5);
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let results = eval.run("answer", &plan! { answer }, &dataset).await;
    /// assert_eq!((results.cases[0].score, results.cases[0].passed), (0.8, true));
    /// # });
    /// ```
    pub fn score_with<S2>(self, scorer: S2) -> Eval<S2> {
        Eval {
            scorer,
            threshold: self.threshold,
            limit: self.limit,
            options: self.options,
        }
    }

    /// A case passes when its score is at least `threshold` (1 by default).
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Runs at most `cases` cases at once (0 is taken as 1).
    pub fn limit(mut self, cases: usize) -> Self {
        self.limit = cases.max(1);
        self
    }

    /// Runs each case with `options` (see [`Run::options`](crate::Run::options)): a
    /// deadline per case, a budget the cases share, values for tools.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Runs `plan` on every case of `dataset`, and scores each; `name` names the plan in the
    /// results. The results are in dataset order.
    pub async fn run<P, I, E>(&self, name: &str, plan: &P, dataset: &Dataset<I, E>) -> Results
    where
        P: Plan<I>,
        P::Out: Serialize,
        I: Clone + Send + Sync + Serialize,
        E: Sync + Serialize,
        S: Scorer<I, P::Out, E>,
    {
        let cases = futures::stream::iter(dataset.cases())
            .map(|case| self.case(plan, case))
            .buffered(self.limit)
            .collect()
            .await;
        Results {
            name: name.to_owned(),
            cases,
        }
    }

    async fn case<P, I, E>(&self, plan: &P, case: &Case<I, E>) -> CaseResult
    where
        P: Plan<I>,
        P::Out: Serialize,
        I: Clone + Send + Sync + Serialize,
        E: Sync + Serialize,
        S: Scorer<I, P::Out, E>,
    {
        // Measured from the case's first poll: a case waiting for a slot is not running.
        let start = Instant::now();
        let (out, report) = plan
            .run(case.input.clone())
            .options(&self.options)
            .reported()
            .await;
        let wall = start.elapsed();
        let totals = report.totals();
        let counted = |counter: &str| {
            totals
                .iter()
                .filter(|(name, _)| *name == counter)
                .map(|(_, amount)| amount)
                .sum::<f64>()
                // An empty sum of floats is -0, which would print as "-0".
                + 0.0
        };
        let mut result = CaseResult {
            id: case.id.clone(),
            input: text(&case.input),
            expected: text(&case.expected),
            output: None,
            score: 0.0,
            passed: false,
            wall,
            tokens_in: counted("tokens_in"),
            tokens_out: counted("tokens_out"),
            requests: counted("requests"),
            dollars: counted("dollars"),
            node: None,
            error: None,
        };
        let failed = |result: &mut CaseResult, err: PlanError| {
            result.node = Some(err.node().name.to_owned());
            result.error = Some(err.to_string());
        };
        let out = match out {
            Ok(out) => out,
            Err(err) => {
                failed(&mut result, err);
                return result;
            }
        };
        result.output = Some(text(&out));
        match self.scorer.score(case, &out).await {
            Ok(score) if (0.0..=1.0).contains(&score) => {
                result.score = score;
                result.passed = score >= self.threshold;
            }
            Ok(score) => result.error = Some(format!("the score {score} is not in 0..=1")),
            Err(err) => failed(&mut result, err),
        }
        result
    }
}

/// A value as text: a JSON string as it is, anything else as JSON.
fn text<T: Serialize + ?Sized>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(value) => value.to_string(),
        Err(err) => format!("(not JSON: {err})"),
    }
}
