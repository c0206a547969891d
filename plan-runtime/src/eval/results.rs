//! What an eval found: [`CaseResult`] per case, [`Summary`] over them, and [`Results`], which
//! writes both as CSV and Markdown.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::EvalError;
use super::csv::Csv;

/// What one case did: its score, whether it passed, how long its run took and what its run
/// report counted. A case whose plan (or scorer) failed scores 0, has no output, and says
/// what failed.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseResult {
    /// The case's id (see [`Case::id`](super::Case::id)).
    pub id: String,
    /// The input, as text: a JSON string as it is, any other value as JSON.
    pub input: String,
    /// The expected value, as text (as `input`).
    pub expected: String,
    /// The plan's output, as text (as `input`); `None` when the plan failed.
    pub output: Option<String>,
    /// In `0..=1`.
    pub score: f64,
    /// Whether the score reached the eval's threshold (never, for a failed case).
    pub passed: bool,
    /// The run's wall time (scoring not included).
    pub wall: Duration,
    /// The run report's `tokens_in`, summed over its nodes.
    pub tokens_in: f64,
    /// Its `tokens_out`.
    pub tokens_out: f64,
    /// Its `requests`.
    pub requests: f64,
    /// Its `dollars`.
    pub dollars: f64,
    /// The name of the node that failed, when one did.
    pub node: Option<String>,
    /// What failed: the plan's error (which names its node), the scorer's, or a score out of
    /// `0..=1`.
    pub error: Option<String>,
}

/// The figures of one eval. Times are nearest-rank percentiles of the cases' wall times.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// How many cases ran.
    pub cases: usize,
    /// How many passed.
    pub passed: usize,
    /// How many failed with an error (they count as not passed, scoring 0).
    pub errors: usize,
    /// `passed / cases` (0 with no cases).
    pub pass_rate: f64,
    /// The mean score (0 with no cases).
    pub mean_score: f64,
    /// The median wall time.
    pub p50_wall: Duration,
    /// The 99th percentile wall time.
    pub p99_wall: Duration,
    /// Tokens in, over every case.
    pub tokens_in: f64,
    /// Tokens out, over every case.
    pub tokens_out: f64,
    /// Requests, over every case.
    pub requests: f64,
    /// Dollars, over every case.
    pub dollars: f64,
}

/// An eval's results: one plan's [`CaseResult`]s in dataset order, under the plan's name.
///
/// ```
/// use std::time::Duration;
/// use plan_runtime::eval::{CaseResult, Results};
///
/// let case = |id: &str, score: f64, ms: u64| CaseResult {
///     id: id.into(), input: "q".into(), expected: "a".into(), output: Some("a, b".into()),
///     score, passed: score >= 1.0, wall: Duration::from_millis(ms),
///     tokens_in: 10.0, tokens_out: 5.0, requests: 1.0, dollars: 0.25,
///     node: None, error: None,
/// };
/// let results = Results { name: "draft".into(), cases: vec![case("1", 1.0, 30), case("2", 0.5, 10)] };
/// let summary = results.summary();
/// assert_eq!((summary.passed, summary.pass_rate, summary.mean_score), (1, 0.5, 0.75));
/// assert_eq!(summary.p50_wall, Duration::from_millis(10));
/// let csv = results.to_csv();
/// assert_eq!(csv.lines().nth(1).unwrap(), r#"draft,1,true,1,30,10,5,1,0.25,,,q,a,"a, b""#);
/// assert!(results.to_markdown().contains("| draft | 2 | 1 | 50.0% | 0.750 | 0 | 10.0 ms | 30.0 ms | 20 | 10 | 2 | $0.500000 |"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// The plan's name, as given to [`Eval::run`](super::Eval::run).
    pub name: String,
    /// One per case, in dataset order.
    pub cases: Vec<CaseResult>,
}

/// The header of a results CSV.
const CSV_HEADER: [&str; 14] = [
    "plan",
    "case",
    "passed",
    "score",
    "wall_ms",
    "tokens_in",
    "tokens_out",
    "requests",
    "dollars",
    "node",
    "error",
    "input",
    "expected",
    "output",
];

impl Results {
    /// The figures over every case.
    pub fn summary(&self) -> Summary {
        let cases = self.cases.len();
        let passed = self.cases.iter().filter(|c| c.passed).count();
        let errors = self.cases.iter().filter(|c| c.error.is_some()).count();
        let per_case = |n: f64| if cases == 0 { 0.0 } else { n / cases as f64 };
        let mut walls: Vec<Duration> = self.cases.iter().map(|c| c.wall).collect();
        walls.sort();
        // `+ 0.0`: an empty sum of floats is -0, which would print as "-0".
        let sum = |f: fn(&CaseResult) -> f64| self.cases.iter().map(f).sum::<f64>() + 0.0;
        Summary {
            cases,
            passed,
            errors,
            pass_rate: per_case(passed as f64),
            mean_score: per_case(sum(|c| c.score)),
            p50_wall: percentile(&walls, 0.50),
            p99_wall: percentile(&walls, 0.99),
            tokens_in: sum(|c| c.tokens_in),
            tokens_out: sum(|c| c.tokens_out),
            requests: sum(|c| c.requests),
            dollars: sum(|c| c.dollars),
        }
    }

    /// One CSV row per case, in dataset order, after a header row: `plan, case, passed,
    /// score, wall_ms, tokens_in, tokens_out, requests, dollars, node, error, input,
    /// expected, output`. Fields are quoted as RFC 4180 says (those with a comma, a quote or a
    /// line break); numbers are plain decimals.
    pub fn to_csv(&self) -> String {
        csv_of(&[self])
    }

    /// The summary as a Markdown table, then a table of the cases.
    pub fn to_markdown(&self) -> String {
        let mut md = format!("## {}\n\n", cell(&self.name));
        md.push_str(&summary_table(&[self]));
        md.push('\n');
        md.push_str(&self.cases_table());
        md
    }

    /// Writes `results.csv` and `summary.md` into `dir` (made if missing); returns their
    /// paths.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, EvalError> {
        let dir = dir.as_ref();
        let markdown = format!("# Eval\n\n{}", self.to_markdown());
        write_files(
            dir,
            &[("results.csv", self.to_csv()), ("summary.md", markdown)],
        )
    }

    /// The cases as a Markdown table: their scores, times, counters, and output (cut at 80
    /// characters) or error.
    pub(super) fn cases_table(&self) -> String {
        let mut md = String::from(
            "| case | passed | score | wall | tokens in | tokens out | cost | output or error |\n\
             |---|---|---:|---:|---:|---:|---:|---|\n",
        );
        for c in &self.cases {
            let said = match (&c.error, &c.output) {
                (Some(error), _) => format!("error: {error}"),
                (None, Some(output)) => cut(output, 80),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {:.3} | {} | {} | {} | {} | {} |",
                cell(&c.id),
                if c.passed { "yes" } else { "no" },
                c.score,
                millis(c.wall),
                decimal(c.tokens_in, 3),
                decimal(c.tokens_out, 3),
                dollars(c.dollars),
                cell(&said),
            );
        }
        md
    }
}

/// The CSV of several plans' results, one header, each plan's rows in dataset order.
pub(super) fn csv_of(results: &[&Results]) -> String {
    let mut csv = Csv::default();
    csv.row(CSV_HEADER);
    for results in results {
        for c in &results.cases {
            csv.row([
                results.name.as_str(),
                &c.id,
                if c.passed { "true" } else { "false" },
                &decimal(c.score, 4),
                &decimal(c.wall.as_secs_f64() * 1e3, 3),
                &decimal(c.tokens_in, 3),
                &decimal(c.tokens_out, 3),
                &decimal(c.requests, 3),
                &decimal(c.dollars, 6),
                c.node.as_deref().unwrap_or(""),
                c.error.as_deref().unwrap_or(""),
                &c.input,
                &c.expected,
                c.output.as_deref().unwrap_or(""),
            ]);
        }
    }
    csv.finish()
}

/// A Markdown table of several plans' summaries, one row each.
pub(super) fn summary_table(results: &[&Results]) -> String {
    let mut md = String::from(
        "| plan | cases | passed | pass rate | mean score | errors | p50 wall | p99 wall | tokens in | tokens out | requests | cost |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for results in results {
        let s = results.summary();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.1}% | {:.3} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&results.name),
            s.cases,
            s.passed,
            s.pass_rate * 100.0,
            s.mean_score,
            s.errors,
            millis(s.p50_wall),
            millis(s.p99_wall),
            decimal(s.tokens_in, 3),
            decimal(s.tokens_out, 3),
            decimal(s.requests, 3),
            dollars(s.dollars),
        );
    }
    md
}

/// Writes each `(name, text)` into `dir`, made if missing.
pub(super) fn write_files(dir: &Path, files: &[(&str, String)]) -> Result<Vec<PathBuf>, EvalError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| EvalError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// The nearest-rank percentile `q` of sorted `values` (zero for none).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or_default()
}

/// `x` with at most `places` decimals, without trailing zeros: `1`, `0.5`, `0.3333`.
pub(super) fn decimal(x: f64, places: usize) -> String {
    let text = format!("{x:.places$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    // `-0.0` rounds to "-0".
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

pub(super) fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub(super) fn dollars(x: f64) -> String {
    format!("${x:.6}")
}

/// Text for a Markdown table cell: pipes escaped, line breaks as `<br>`.
pub(super) fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

/// `text` cut at `max` characters, with `…` where it was cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
