//! [`Comparison`]: two plans' results on the same dataset, side by side.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::EvalError;
use super::csv::Csv;
use super::results::{Results, cell, csv_of, decimal, summary_table, write_files};

/// Two plans' [`Results`] on the same dataset (A, the baseline, and B): per-case scores
/// side by side and the differences of their summaries, as CSV and Markdown.
///
/// ```
/// use std::time::Duration;
/// use plan_runtime::eval::{CaseResult, Comparison, Results};
///
/// let case = |id: &str, score: f64| CaseResult {
///     id: id.into(), input: "q".into(), expected: "a".into(), output: Some("a".into()),
///     score, passed: score >= 1.0, wall: Duration::from_millis(10),
///     tokens_in: 10.0, tokens_out: 5.0, requests: 1.0, dollars: 0.01,
///     node: None, error: None,
/// };
/// let a = Results { name: "one".into(), cases: vec![case("1", 0.0), case("2", 1.0)] };
/// let b = Results { name: "best of 3".into(), cases: vec![case("1", 1.0), case("2", 1.0)] };
/// let comparison = Comparison::new(a, b).unwrap();
/// assert_eq!(comparison.to_csv().lines().nth(1).unwrap(), "1,0,1,1,false,true,10,10,0.01,0.01");
/// assert!(comparison.to_markdown().contains("| pass rate | 50.0% | 100.0% | +50.0 pp |"));
/// assert!(comparison.to_markdown().contains("B better in 1 case, worse in 0, the same in 1."));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    a: Results,
    b: Results,
}

impl Comparison {
    /// A and B side by side. They must have the same cases, in the same order (the same
    /// dataset): else an error naming the first case that differs.
    pub fn new(a: Results, b: Results) -> Result<Self, EvalError> {
        let ids = |r: &Results| r.cases.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        let (ids_a, ids_b) = (ids(&a), ids(&b));
        if ids_a != ids_b {
            let at = ids_a.iter().zip(&ids_b).take_while(|(x, y)| x == y).count();
            return Err(EvalError::Mismatch {
                at: at + 1,
                a: ids_a.get(at).cloned().unwrap_or_else(|| "none".into()),
                b: ids_b.get(at).cloned().unwrap_or_else(|| "none".into()),
            });
        }
        Ok(Comparison { a, b })
    }

    /// Plan A's results.
    pub fn a(&self) -> &Results {
        &self.a
    }

    /// Plan B's results.
    pub fn b(&self) -> &Results {
        &self.b
    }

    /// One CSV row per case after a header row: `case, score_a, score_b, delta (B − A),
    /// passed_a, passed_b, wall_ms_a, wall_ms_b, dollars_a, dollars_b`.
    pub fn to_csv(&self) -> String {
        let mut csv = Csv::default();
        csv.row([
            "case",
            "score_a",
            "score_b",
            "delta",
            "passed_a",
            "passed_b",
            "wall_ms_a",
            "wall_ms_b",
            "dollars_a",
            "dollars_b",
        ]);
        for (a, b) in self.a.cases.iter().zip(&self.b.cases) {
            let ms = |c: &super::CaseResult| decimal(c.wall.as_secs_f64() * 1e3, 3);
            csv.row([
                a.id.clone(),
                decimal(a.score, 4),
                decimal(b.score, 4),
                decimal(b.score - a.score, 4),
                a.passed.to_string(),
                b.passed.to_string(),
                ms(a),
                ms(b),
                decimal(a.dollars, 6),
                decimal(b.dollars, 6),
            ]);
        }
        csv.finish()
    }

    /// The summaries' figures as CSV: `metric, a, b, delta` (B − A), one row per figure
    /// (`pass_rate`, `mean_score`, `errors`, `p50_wall_ms`, `p99_wall_ms`, `tokens_in`,
    /// `tokens_out`, `requests`, `dollars`).
    pub fn summary_csv(&self) -> String {
        let mut csv = Csv::default();
        csv.row(["metric", "a", "b", "delta"]);
        for (metric, a, b, places) in self.figures() {
            csv.row([
                metric.replace(' ', "_"),
                decimal(a, places),
                decimal(b, places),
                decimal(b - a, places),
            ]);
        }
        csv.finish()
    }

    /// Both summaries, their differences, how many cases B did better, worse and the same
    /// on, and the per-case scores, as Markdown.
    pub fn to_markdown(&self) -> String {
        let (a, b) = (&self.a, &self.b);
        let mut md = format!("A is {}, B is {}.\n\n", cell(&a.name), cell(&b.name));
        md.push_str(&summary_table(&[a, b]));
        md.push_str("\n| | A | B | B − A |\n|---|---:|---:|---:|\n");
        let (sa, sb) = (a.summary(), b.summary());
        let _ = writeln!(
            md,
            "| pass rate | {:.1}% | {:.1}% | {:+.1} pp |",
            sa.pass_rate * 100.0,
            sb.pass_rate * 100.0,
            (sb.pass_rate - sa.pass_rate) * 100.0
        );
        for (metric, x, y, places) in self.figures().into_iter().skip(1) {
            let _ = writeln!(
                md,
                "| {metric} | {} | {} | {}{} |",
                decimal(x, places),
                decimal(y, places),
                if y >= x { "+" } else { "" },
                decimal(y - x, places)
            );
        }
        let (mut better, mut worse) = (0, 0);
        for (x, y) in a.cases.iter().zip(&b.cases) {
            if y.score > x.score {
                better += 1;
            } else if y.score < x.score {
                worse += 1;
            }
        }
        let same = a.cases.len() - better - worse;
        let cases = if better == 1 { "case" } else { "cases" };
        let _ = writeln!(
            md,
            "\nB better in {better} {cases}, worse in {worse}, the same in {same}.\n"
        );
        md.push_str("| case | score A | score B | B − A | passed A | passed B |\n|---|---:|---:|---:|---|---|\n");
        let yes = |passed: bool| if passed { "yes" } else { "no" };
        for (x, y) in a.cases.iter().zip(&b.cases) {
            let _ = writeln!(
                md,
                "| {} | {:.3} | {:.3} | {:+.3} | {} | {} |",
                cell(&x.id),
                x.score,
                y.score,
                y.score - x.score,
                yes(x.passed),
                yes(y.passed)
            );
        }
        md
    }

    /// Writes into `dir` (made if missing): `results.csv` (A's rows, then B's),
    /// `summary.md` (both summaries and their cases), `comparison.csv`,
    /// `comparison-summary.csv` and `comparison.md`; returns their paths.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, EvalError> {
        let (a, b) = (&self.a, &self.b);
        let summary = format!(
            "# Eval\n\n{}\n## {}\n\n{}\n## {}\n\n{}",
            summary_table(&[a, b]),
            cell(&a.name),
            a.cases_table(),
            cell(&b.name),
            b.cases_table()
        );
        let comparison = format!("# Comparison\n\n{}", self.to_markdown());
        write_files(
            dir.as_ref(),
            &[
                ("results.csv", csv_of(&[a, b])),
                ("summary.md", summary),
                ("comparison.csv", self.to_csv()),
                ("comparison-summary.csv", self.summary_csv()),
                ("comparison.md", comparison),
            ],
        )
    }

    /// The compared figures: name, A's, B's, and how many decimals they are written with.
    fn figures(&self) -> Vec<(&'static str, f64, f64, usize)> {
        let (a, b) = (self.a.summary(), self.b.summary());
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        vec![
            ("pass rate", a.pass_rate, b.pass_rate, 4),
            ("mean score", a.mean_score, b.mean_score, 4),
            ("errors", a.errors as f64, b.errors as f64, 0),
            ("p50 wall ms", ms(a.p50_wall), ms(b.p50_wall), 3),
            ("p99 wall ms", ms(a.p99_wall), ms(b.p99_wall), 3),
            ("tokens in", a.tokens_in, b.tokens_in, 3),
            ("tokens out", a.tokens_out, b.tokens_out, 3),
            ("requests", a.requests, b.requests, 3),
            ("dollars", a.dollars, b.dollars, 6),
        ]
    }
}
