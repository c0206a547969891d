//! Evals (`plan_runtime::eval`): a plan run over a dataset, every case scored, timed and
//! counted, written as CSV (checked row by row, quoting included) and Markdown; failing cases
//! that name their node; the limit on cases at once; and two plans compared. On tokio's
//! paused clock, where every wall time is an exact virtual time.

mod common;

use common::*;

use plan_runtime::eval::{Case, Comparison, Dataset, Eval, EvalError, Results, ScoringPlan};
use plan_runtime::prelude::*;
use plan_runtime::run::Options;
use plan_runtime::{Cx, Describe};
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------------
// Plans

/// A scripted model: answers each question after a scripted time, and counts what a real
/// model's call would.
struct Model;

impl Describe for Model {}

impl Plan<String> for Model {
    type Out = String;

    async fn call(&self, question: String, cx: Cx<'_, ()>) -> Result<String, PlanError> {
        let (after, answer) = match question.as_str() {
            "two" => (30, "2"),
            "comma" => (10, "a, b"),
            "quote" => (50, "say \"hi\""),
            "lines" => (20, "one\ntwo"),
            "wrong" => (40, "left"),
            _ => (60, ""),
        };
        tokio::time::sleep(ms(after)).await;
        if let Some(monitor) = cx.monitor() {
            monitor.count("requests", 1.0);
            monitor.count("tokens_in", question.len() as f64);
            monitor.count("tokens_out", answer.len() as f64);
            monitor.count("dollars", 0.25 * answer.len() as f64);
        }
        Ok(answer.to_owned())
    }
}

#[derive(Debug)]
struct Empty;

impl std::fmt::Display for Empty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the answer is empty")
    }
}

impl std::error::Error for Empty {}

fn check(answer: String) -> Result<String, Empty> {
    if answer.is_empty() {
        Err(Empty)
    } else {
        Ok(answer)
    }
}

fn answers() -> impl Plan<String, Out = String> {
    let model = Model;
    plan! { model >> check }
}

const DATASET: &str = r#"{"id": "plain", "input": "two", "expected": "2"}
{"input": "comma", "expected": "a, b"}
{"input": "quote", "expected": "say \"hi\""}

{"input": "lines", "expected": "one\ntwo"}
{"input": "wrong", "expected": "right"}
{"id": 6, "input": "boom", "expected": "x"}
"#;

fn dataset() -> Dataset<String, String> {
    Dataset::parse(DATASET).unwrap()
}

/// Parses RFC 4180 CSV (quoted fields may hold commas, quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the CSV ends mid-row");
    rows
}

// ---------------------------------------------------------------------------------------------
// Results

#[tokio::test(start_paused = true)]
async fn the_csv_has_one_row_per_case_in_dataset_order_with_fields_quoted() {
    let results = Eval::new().run("answers", &answers(), &dataset()).await;
    let csv = results.to_csv();
    let error = results.cases[5].error.clone().unwrap();
    assert!(
        error.starts_with("`check` (step at 1,") && error.ends_with("failed: the answer is empty"),
        "{error}"
    );

    // The text itself, row by row: a field with a comma, a quote or a line break is quoted,
    // its quotes doubled; the cases are in dataset order, not the order they finished in.
    let expected = [
        "plan,case,passed,score,wall_ms,tokens_in,tokens_out,requests,dollars,node,error,input,expected,output",
        "answers,plain,true,1,30,3,1,1,0.25,,,two,2,2",
        r#"answers,2,true,1,10,5,4,1,1,,,comma,"a, b","a, b""#,
        r#"answers,3,true,1,50,5,8,1,2,,,quote,"say ""hi""","say ""hi""""#,
        "answers,4,true,1,20,5,7,1,1.75,,,lines,\"one\ntwo\",\"one\ntwo\"",
        "answers,5,false,0,40,5,4,1,1,,,wrong,right,left",
        // The error has commas (`step at 1, file:line`): quoted.
        &format!("answers,6,false,0,60,4,0,1,0,check,\"{error}\",boom,x,"),
    ];
    let mut rest = csv.as_str();
    for row in expected {
        let line = rest.get(..row.len() + 1);
        assert_eq!(line, Some(format!("{row}\n").as_str()));
        rest = &rest[row.len() + 1..];
    }
    assert_eq!(rest, "");

    // Read back as CSV, every field is what the results hold.
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|row| row.len() == 14));
    for (row, case) in rows[1..].iter().zip(&results.cases) {
        assert_eq!(row[1], case.id);
        assert_eq!(row[12], case.expected);
        assert_eq!(row[13], case.output.clone().unwrap_or_default());
    }
    assert_eq!(rows[4][13], "one\ntwo");
    assert_eq!(rows[3][13], "say \"hi\"");
}

#[tokio::test(start_paused = true)]
async fn the_markdown_summary_has_the_eval_figures() {
    let results = Eval::new().run("answers", &answers(), &dataset()).await;
    let summary = results.summary();
    assert_eq!((summary.cases, summary.passed, summary.errors), (6, 4, 1));
    assert_eq!(summary.pass_rate, 4.0 / 6.0);
    assert_eq!(summary.mean_score, 4.0 / 6.0);
    // Walls 10, 20, 30, 40, 50, 60 ms: the nearest-rank median is the third.
    assert_eq!((summary.p50_wall, summary.p99_wall), (ms(30), ms(60)));
    assert_eq!((summary.tokens_in, summary.tokens_out), (27.0, 24.0));
    assert_eq!((summary.requests, summary.dollars), (6.0, 6.0));

    let md = results.to_markdown();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "## answers");
    assert_eq!(
        lines[2],
        "| plan | cases | passed | pass rate | mean score | errors | p50 wall | p99 wall | tokens in | tokens out | requests | cost |"
    );
    assert_eq!(
        lines[4],
        "| answers | 6 | 4 | 66.7% | 0.667 | 1 | 30.0 ms | 60.0 ms | 27 | 24 | 6 | $6.000000 |"
    );
    // The cases, one row each, a line break in a cell written as `<br>`.
    assert_eq!(
        lines[6],
        "| case | passed | score | wall | tokens in | tokens out | cost | output or error |"
    );
    assert_eq!(
        lines[8],
        "| plain | yes | 1.000 | 30.0 ms | 3 | 1 | $0.250000 | 2 |"
    );
    assert_eq!(
        lines[11],
        "| 4 | yes | 1.000 | 20.0 ms | 5 | 7 | $1.750000 | one<br>two |"
    );
    assert!(
        lines[13].starts_with(
            "| 6 | no | 0.000 | 60.0 ms | 4 | 0 | $0.000000 | error: `check` (step at 1,"
        ),
        "{}",
        lines[13]
    );
    assert_eq!(lines.len(), 14);
}

#[tokio::test(start_paused = true)]
async fn a_failing_case_names_its_node_and_the_eval_goes_on() {
    let results = Eval::new()
        .limit(1)
        .run("answers", &answers(), &dataset())
        .await;
    let failed = &results.cases[5];
    assert_eq!(failed.node.as_deref(), Some("check"));
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("the answer is empty")
    );
    assert_eq!(
        (failed.output.as_deref(), failed.score, failed.passed),
        (None, 0.0, false)
    );
    // Its run's counters are kept: the model was called.
    assert_eq!((failed.requests, failed.tokens_in), (1.0, 4.0));

    // A deadline per case (the eval's options) fails the slow cases only, each naming the
    // plan's root, and every case after them still runs.
    let options = Options::new().timeout(ms(35));
    let results = Eval::new()
        .options(options)
        .run("answers", &answers(), &dataset())
        .await;
    let timed_out: Vec<_> = results
        .cases
        .iter()
        .filter(|c| c.error.as_deref().is_some_and(|e| e.contains("timed out")))
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(timed_out, ["3", "5", "6"]);
    assert_eq!(results.summary().passed, 3);
}

#[tokio::test(start_paused = true)]
async fn at_most_limit_cases_run_at_once() {
    /// Holds a guard while it sleeps 100 ms: the probe sees how many run at once.
    struct Slow(Probe);
    impl Describe for Slow {}
    impl Plan<u32> for Slow {
        type Out = u32;
        async fn call(&self, n: u32, _: Cx<'_, ()>) -> Result<u32, PlanError> {
            let guard = Guard::enter(&self.0, n);
            tokio::time::sleep(ms(100)).await;
            guard.finish();
            Ok(n)
        }
    }

    let cases = (0..10)
        .map(|n| Case {
            id: n.to_string(),
            input: n,
            expected: n,
        })
        .collect();
    let dataset = Dataset::new(cases);
    let probe = Probe::default();
    let started = Instant::now();
    let results = Eval::new()
        .limit(3)
        .run("slow", &Slow(probe.clone()), &dataset)
        .await;

    assert_eq!(probe.max_running(), 3);
    // Ten cases, three at a time (each taking the next free slot): four rounds of 100 ms.
    assert_eq!(started.elapsed(), ms(400));
    assert_eq!(probe.started(), (0..10).collect::<Vec<_>>());
    // Each case's wall time is its own run, not its wait for a slot.
    assert!(results.cases.iter().all(|c| c.wall == ms(100) && c.passed));

    // Nothing counted is 0, not -0 (an empty sum of floats).
    assert_eq!(results.cases[0].dollars.to_string(), "0");
    assert!(results.to_markdown().contains("| $0.000000 |"));

    let probe = Probe::default();
    Eval::new()
        .limit(0)
        .run("slow", &Slow(probe.clone()), &dataset)
        .await;
    assert_eq!(probe.max_running(), 1);
}

// ---------------------------------------------------------------------------------------------
// Scoring

#[tokio::test(start_paused = true)]
async fn a_scoring_function_or_plan_decides_with_the_threshold() {
    // Half marks for an answer of the right length.
    let near = |out: &String, expected: &String| {
        if out == expected {
            1.0
        } else if out.len() == expected.len() {
            0.5
        } else {
            0.0
        }
    };
    let results = Eval::new()
        .score_with(near)
        .threshold(0.5)
        .run("answers", &answers(), &dataset())
        .await;
    let wrong = &results.cases[4];
    assert_eq!((wrong.score, wrong.passed), (0.0, false));
    let results = Eval::new()
        .score_with(|out: &String, _: &String| if out == "left" { 0.5 } else { 1.0 })
        .threshold(0.5)
        .run("answers", &answers(), &dataset())
        .await;
    assert_eq!(results.summary().passed, 5);

    // A scoring plan: it sees the input too, and its failure fails the case, naming its node.
    fn judge((question, out, _): (String, String, String)) -> Result<f64, Empty> {
        if question == "wrong" {
            Err(Empty)
        } else {
            Ok(out.len().min(4) as f64 / 4.0)
        }
    }
    let results = Eval::new()
        .score_with(ScoringPlan(plan! { judge }))
        .threshold(0.75)
        .run("answers", &answers(), &dataset())
        .await;
    let scores: Vec<f64> = results.cases.iter().map(|c| c.score).collect();
    assert_eq!(scores, [0.25, 1.0, 1.0, 1.0, 0.0, 0.0]);
    assert_eq!(results.cases[4].node.as_deref(), Some("judge"));
    assert_eq!(results.cases[4].output.as_deref(), Some("left"));
    assert_eq!(results.summary().passed, 3);

    // A score outside 0..=1 is an error of the case, not a pass.
    let results = Eval::new()
        .score_with(|_: &String, _: &String| 2.0)
        .run("answers", &answers(), &dataset())
        .await;
    let case = &results.cases[0];
    assert_eq!(case.error.as_deref(), Some("the score 2 is not in 0..=1"));
    assert_eq!(
        (case.score, case.passed, case.node.as_deref()),
        (0.0, false, None)
    );
}

// ---------------------------------------------------------------------------------------------
// Comparing

#[tokio::test(start_paused = true)]
async fn a_comparison_shows_per_case_scores_and_summary_deltas() {
    fn upper(question: String) -> String {
        match question.as_str() {
            "two" => "2".into(),
            "wrong" => "right".into(),
            "boom" => "x".into(),
            _ => question.to_uppercase(),
        }
    }
    let dataset = dataset();
    let eval = Eval::new();
    let a = eval.run("answers", &answers(), &dataset).await;
    let b = eval.run("upper", &plan! { upper }, &dataset).await;
    let comparison = Comparison::new(a, b).unwrap();

    let csv = comparison.to_csv();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows,
        [
            "case,score_a,score_b,delta,passed_a,passed_b,wall_ms_a,wall_ms_b,dollars_a,dollars_b",
            "plain,1,1,0,true,true,30,0,0.25,0",
            "2,1,0,-1,true,false,10,0,1,0",
            "3,1,0,-1,true,false,50,0,2,0",
            "4,1,0,-1,true,false,20,0,1.75,0",
            "5,0,1,1,false,true,40,0,1,0",
            "6,0,1,1,false,true,60,0,0,0",
        ]
    );
    let summary = comparison.summary_csv();
    let rows: Vec<&str> = summary.lines().collect();
    assert_eq!(
        rows,
        [
            "metric,a,b,delta",
            "pass_rate,0.6667,0.5,-0.1667",
            "mean_score,0.6667,0.5,-0.1667",
            "errors,1,0,-1",
            "p50_wall_ms,30,0,-30",
            "p99_wall_ms,60,0,-60",
            "tokens_in,27,0,-27",
            "tokens_out,24,0,-24",
            "requests,6,0,-6",
            "dollars,6,0,-6",
        ]
    );
    let md = comparison.to_markdown();
    assert!(md.starts_with("A is answers, B is upper.\n"), "{md}");
    assert!(
        md.contains("| pass rate | 66.7% | 50.0% | -16.7 pp |"),
        "{md}"
    );
    assert!(
        md.contains("| mean score | 0.6667 | 0.5 | -0.1667 |"),
        "{md}"
    );
    assert!(md.contains("| requests | 6 | 0 | -6 |"), "{md}");
    assert!(
        md.contains("B better in 2 cases, worse in 3, the same in 1."),
        "{md}"
    );
    assert!(
        md.contains("| 2 | 1.000 | 0.000 | -1.000 | yes | no |"),
        "{md}"
    );

    // Results of different datasets are not compared.
    let other: Dataset<String, String> =
        Dataset::parse(r#"{"input": "two", "expected": "2"}"#).unwrap();
    let c = eval.run("one", &answers(), &other).await;
    let err = Comparison::new(comparison.a().clone(), c).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the results are not of the same cases: case 1 is `plain` in A and `1` in B"
    );
}

#[tokio::test(start_paused = true)]
async fn results_are_written_as_files() {
    let dir = std::env::temp_dir().join(format!("plan-eval-{}", std::process::id()));
    let results: Results = Eval::new().run("answers", &answers(), &dataset()).await;
    let written = results.write(&dir).unwrap();
    assert_eq!(written, [dir.join("results.csv"), dir.join("summary.md")]);
    assert_eq!(
        std::fs::read_to_string(&written[0]).unwrap(),
        results.to_csv()
    );
    let b = Eval::new().run("again", &answers(), &dataset()).await;
    let written = Comparison::new(results, b).unwrap().write(&dir).unwrap();
    let names: Vec<_> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "results.csv",
            "summary.md",
            "comparison.csv",
            "comparison-summary.csv",
            "comparison.md"
        ]
    );
    // Both plans' rows under one header.
    assert_eq!(
        std::fs::read_to_string(&written[0])
            .unwrap()
            .matches("\nagain,")
            .count(),
        6
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_dataset_is_an_error_naming_its_line() {
    let err = Dataset::<String, String>::parse(
        "{\"input\": \"a\", \"expected\": \"b\"}\n\n{\"input\": 1, \"expected\": \"b\"}",
    )
    .unwrap_err();
    assert!(matches!(err, EvalError::Case { line: 3, .. }));
    assert!(
        err.to_string()
            .starts_with("dataset line 3: invalid type: integer `1`"),
        "{err}"
    );
    let err =
        Dataset::<String, String>::parse("{\"input\": \"a\", \"expect\": \"b\"}").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("dataset line 1: unknown field `expect`"),
        "{err}"
    );
    let err = Dataset::<String, String>::parse("\n  \n").unwrap_err();
    assert_eq!(err.to_string(), "the dataset has no case");
    let err = Dataset::<String, String>::load("/nonexistent/cases.jsonl").unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/cases.jsonl: "),
        "{err}"
    );
}
