//! A durable run that survives `kill -9`: ten steps of 200–400 ms (a chain with a `par` of
//! three inside), each appending its name to an effects file before it returns. Kill it at
//! any moment and run it again with the same arguments: it finishes with the result of an
//! uninterrupted run, and no step whose output was journaled runs again.
//!
//! ```text
//! cargo run -p plan-state --example durable -- --store sqlite:/tmp/runs.db --run-id demo --effects /tmp/effects
//! cargo run -p plan-state --example durable -- --store json:/tmp/runs --run-id demo --effects /tmp/effects
//! cargo run -p plan-state --example durable -- --store redis://127.0.0.1:6379 --run-id demo --effects /tmp/effects
//! ```
//!
//! The last line it prints is `result: ...`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use plan_runtime::prelude::*;
use plan_state::runs::{RunStatus, Runs};
use plan_state::store::{JsonFiles, Redis, Sqlite, Store};

/// What the steps share: the file each appends its name to.
struct Effects {
    file: PathBuf,
}

impl Effects {
    /// Takes `ms`, then records that `step` ran: the effect a rerun must not repeat.
    async fn perform(&self, step: &str, ms: u64) -> std::io::Result<()> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)?;
        // One `write` of a whole line: a kill leaves whole lines only.
        file.write_all(format!("{step}\n").as_bytes())
    }
}

async fn brief(topic: String, fx: &Effects) -> std::io::Result<String> {
    fx.perform("brief", 200).await?;
    Ok(format!("brief on {topic}"))
}
async fn outline(brief: String, fx: &Effects) -> std::io::Result<String> {
    fx.perform("outline", 300).await?;
    Ok(format!("outline of {brief}"))
}
async fn search_web(outline: String, fx: &Effects) -> std::io::Result<Vec<String>> {
    fx.perform("search_web", 400).await?;
    Ok(vec![format!("web results for {outline}")])
}
async fn search_papers(outline: String, fx: &Effects) -> std::io::Result<Vec<String>> {
    fx.perform("search_papers", 300).await?;
    let words = outline.split_whitespace().count();
    Ok(vec![format!("3 papers matching {words} words")])
}
async fn search_code(outline: String, fx: &Effects) -> std::io::Result<Vec<String>> {
    fx.perform("search_code", 200).await?;
    Ok(vec![
        "2 repositories".to_owned(),
        format!("{} chars of outline", outline.len()),
    ])
}
async fn merge(
    (web, papers, code): (Vec<String>, Vec<String>, Vec<String>),
    fx: &Effects,
) -> std::io::Result<String> {
    fx.perform("merge", 200).await?;
    Ok([web, papers, code].concat().join("; "))
}
async fn draft(notes: String, fx: &Effects) -> std::io::Result<String> {
    fx.perform("draft", 400).await?;
    Ok(format!("draft from [{notes}]"))
}
async fn review(draft: String, fx: &Effects) -> std::io::Result<String> {
    fx.perform("review", 300).await?;
    Ok(format!("reviewed {draft}"))
}
async fn polish(text: String, fx: &Effects) -> std::io::Result<String> {
    fx.perform("polish", 200).await?;
    Ok(text.replace("draft", "article"))
}
async fn publish(text: String, fx: &Effects) -> std::io::Result<String> {
    fx.perform("publish", 300).await?;
    Ok(format!(
        "published {} words",
        text.split_whitespace().count()
    ))
}

/// The command line: `--store SPEC --run-id ID --effects FILE [--topic TOPIC]`.
struct Args {
    store: String,
    run_id: String,
    effects: PathBuf,
    topic: String,
}

const USAGE: &str = "usage: durable --store sqlite:PATH|json:DIR|redis://HOST:PORT --run-id ID --effects FILE [--topic TOPIC]";

fn args() -> Result<Args, String> {
    let mut store = None;
    let mut run_id = None;
    let mut effects = None;
    let mut topic = "durable plans".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or(format!("`{flag}` needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--store" => store = Some(value()?),
            "--run-id" => run_id = Some(value()?),
            "--effects" => effects = Some(PathBuf::from(value()?)),
            "--topic" => topic = value()?,
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    let missing = |what: &str| format!("`{what}` is required\n{USAGE}");
    Ok(Args {
        store: store.ok_or_else(|| missing("--store"))?,
        run_id: run_id.ok_or_else(|| missing("--run-id"))?,
        effects: effects.ok_or_else(|| missing("--effects"))?,
        topic,
    })
}

async fn run<S: Store + 'static>(store: S, args: Args) -> Result<String, String> {
    let plan = plan! {
        #![durable]
        brief >> outline
            >> par { search_web, search_papers, search_code }
            >> merge >> draft >> review >> polish >> publish
    };
    let effects = Effects { file: args.effects };
    let runs = Runs::new(store);
    match runs
        .run(&plan, &args.run_id, args.topic)
        .ctx(&effects)
        .await
    {
        Ok(RunStatus::Done(result)) => Ok(result),
        Ok(RunStatus::Waiting(question)) => Err(format!("waiting on {question:?}")),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match args() {
        Err(usage) => Err(usage),
        Ok(args) => match args.store.clone() {
            spec if spec.starts_with("sqlite:") => {
                match Sqlite::open(&spec["sqlite:".len()..]).await {
                    Ok(store) => run(store, args).await,
                    Err(e) => Err(e.to_string()),
                }
            }
            spec if spec.starts_with("json:") => match JsonFiles::open(&spec["json:".len()..]) {
                Ok(store) => run(store, args).await,
                Err(e) => Err(e.to_string()),
            },
            spec if spec.starts_with("redis://") => match Redis::connect(&spec).await {
                Ok(store) => run(store, args).await,
                Err(e) => Err(e.to_string()),
            },
            spec => Err(format!("unknown store `{spec}`\n{USAGE}")),
        },
    };
    match result {
        Ok(result) => {
            println!("result: {result}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
