//! An eval: one draft against the best of three, on the same dataset, with results as CSV
//! and Markdown.
//!
//! ```text
//! cargo run --example eval -- --dataset plan-runtime/examples/eval/cases.jsonl --out /tmp/eval [--limit K]
//! ```
//!
//! Each case of the dataset (JSON Lines) is a question with three scripted drafts (a text, the
//! model's confidence in it, and how many milliseconds it takes) and the expected answer.
//! Plan A takes the first draft; plan B asks for all three at once and keeps the one the model
//! is most confident in (`par(n_best(1, by = confidence))`). A draft that is empty fails the
//! plan in `check`. Every draft counts what a real model call would (tokens, dollars, one
//! request), so the results show what B's quality costs. No network: the drafts are scripted,
//! and time is tokio's paused clock, so two runs write the same files byte for byte.
//!
//! Scores are the share of the expected answer's words found in the answer (case and
//! punctuation aside); a case passes at 0.8. It writes `results.csv`, `summary.md`,
//! `comparison.csv`, `comparison-summary.csv` and `comparison.md` into the `--out`
//! directory, prints the comparison and the paths, and exits 0 (2 on bad arguments, 1 when
//! the dataset cannot be read or the files written).

use std::path::PathBuf;
use std::process::ExitCode;

use plan_runtime::eval::{Comparison, Dataset, Eval};
use plan_runtime::prelude::*;
use plan_runtime::{Cx, Describe};
use serde::{Deserialize, Serialize};

/// A case's input: the question, and what the scripted model answers to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Question {
    question: String,
    drafts: Vec<Draft>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Draft {
    text: String,
    confidence: f64,
    /// How long the model takes to write it.
    ms: u64,
}

/// The scripted model, writing its `n`th draft: it takes the draft's time, and counts what a
/// real call would (about four characters a token, at $3 and $15 per million tokens).
struct Drafter(usize);

impl Describe for Drafter {}

impl Plan<Question> for Drafter {
    type Out = Draft;

    async fn call(&self, q: Question, cx: Cx<'_, ()>) -> Result<Draft, PlanError> {
        let draft = q.drafts.get(self.0).cloned().unwrap_or(Draft {
            text: String::new(),
            confidence: 0.0,
            ms: 0,
        });
        tokio::time::sleep(Duration::from_millis(draft.ms)).await;
        if let Some(monitor) = cx.monitor() {
            let tokens_in = (q.question.len() as f64 / 4.0).ceil() + 20.0;
            let tokens_out = (draft.text.len() as f64 / 4.0).ceil() + 1.0;
            monitor.count("requests", 1.0);
            monitor.count("tokens_in", tokens_in);
            monitor.count("tokens_out", tokens_out);
            monitor.count("dollars", (3.0 * tokens_in + 15.0 * tokens_out) * 1e-6);
        }
        Ok(draft)
    }
}

fn confidence(draft: &Draft) -> f64 {
    draft.confidence
}

fn first(drafts: Vec<Draft>) -> Draft {
    drafts
        .into_iter()
        .next()
        .expect("n_best(1) of three drafts keeps one")
}

#[derive(Debug)]
struct EmptyDraft;

impl std::fmt::Display for EmptyDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the draft is empty")
    }
}

impl std::error::Error for EmptyDraft {}

fn check(draft: Draft) -> Result<String, EmptyDraft> {
    if draft.text.trim().is_empty() {
        Err(EmptyDraft)
    } else {
        Ok(draft.text)
    }
}

/// The share of the expected answer's words that the answer has.
// A scorer takes the output and the expected value by reference, and both are `String`s.
#[allow(clippy::ptr_arg)]
fn words_found(answer: &String, expected: &String) -> f64 {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (answer, expected) = (words(answer), words(expected));
    if expected.is_empty() {
        return f64::from(u8::from(answer.is_empty()));
    }
    let found = expected.iter().filter(|w| answer.contains(w)).count();
    found as f64 / expected.len() as f64
}

struct Args {
    dataset: PathBuf,
    out: PathBuf,
    limit: usize,
}

fn args() -> Result<Args, String> {
    let (mut dataset, mut out, mut limit) = (None, None, 4);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--dataset" => dataset = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--limit" => {
                let text = value()?;
                limit = text
                    .parse()
                    .map_err(|_| format!("--limit {text}: not a number"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        dataset: dataset.ok_or("--dataset FILE is required")?,
        out: out.ok_or("--out DIR is required")?,
        limit,
    })
}

// On tokio's paused clock: the scripted times are exact virtual times, so every run writes the
// same files, byte for byte.
#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("eval: {err}\nusage: eval --dataset FILE --out DIR [--limit K]");
            return ExitCode::from(2);
        }
    };
    let dataset: Dataset<Question, String> = match Dataset::load(&args.dataset) {
        Ok(dataset) => dataset,
        Err(err) => {
            eprintln!("eval: {err}");
            return ExitCode::FAILURE;
        }
    };

    let one = plan! { (Drafter(0)) >> check };
    let best_of_three = plan! {
        par(n_best(1, by = confidence)) { (Drafter(0)), (Drafter(1)), (Drafter(2)) }
            >> first
            >> check
    };

    let eval = Eval::new()
        .score_with(words_found)
        .threshold(0.8)
        .limit(args.limit);
    let a = eval.run("one draft", &one, &dataset).await;
    let b = eval
        .run("n_best of 3 drafts", &best_of_three, &dataset)
        .await;
    let comparison = Comparison::new(a, b).expect("two runs over one dataset have its cases");

    println!("{}", comparison.to_markdown());
    match comparison.write(&args.out) {
        Ok(paths) => {
            for path in paths {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("eval: {err}");
            ExitCode::FAILURE
        }
    }
}
