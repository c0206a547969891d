//! A durable run that waits for a person: it writes a draft, then asks for approval and ends,
//! persisted; run later (in another process) with the answer, it continues from the question
//! without writing the draft again.
//!
//! ```text
//! cargo run -p plan-state --example approval -- --store /tmp/approval.db --run-id post-1
//! cargo run -p plan-state --example approval -- --store /tmp/approval.db --run-id post-1 --answer yes
//! ```

use std::process::ExitCode;
use std::time::Duration;

use plan_runtime::prelude::*;
use plan_state::runs::{RunError, RunStatus, Runs};
use plan_state::store::Sqlite;
use plan_state::wait::ask;
use serde::{Deserialize, Serialize};

/// What the reviewer answers.
#[derive(Serialize, Deserialize)]
struct Verdict {
    approved: bool,
}

async fn draft(topic: String) -> String {
    println!("writing the draft (a slow, costly model call)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    format!("Ten things about {topic}")
}

fn publish((draft, verdict): (String, Verdict)) -> String {
    if verdict.approved {
        format!("published \"{draft}\"")
    } else {
        format!("shelved \"{draft}\"")
    }
}

const USAGE: &str = "usage: approval --store PATH --run-id ID [--answer yes|no]";

/// `--store PATH --run-id ID [--answer yes|no]`.
fn args() -> Result<(String, String, Option<bool>), String> {
    let (mut store, mut id, mut answer) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or(format!("`{flag}` needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--store" => store = Some(value),
            "--run-id" => id = Some(value),
            "--answer" => {
                answer = Some(match value.as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(format!("`--answer` is `yes` or `no`, not `{value}`")),
                })
            }
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    Ok((
        store.ok_or(format!("`--store` is required\n{USAGE}"))?,
        id.ok_or(format!("`--run-id` is required\n{USAGE}"))?,
        answer,
    ))
}

async fn run() -> Result<String, String> {
    let (store, id, answer) = args()?;
    let plan = plan! {
        let draft = #[durable] draft;
        let verdict = draft >> #[name = "approve"] (ask::<Verdict>());
        (draft, verdict) >> publish
    };
    let runs = Runs::new(Sqlite::open(&store).await.map_err(|e| e.to_string())?);
    let topic = "durable plans".to_owned();
    let outcome = match answer {
        None => runs.run(&plan, &id, topic).await,
        Some(approved) => runs.resume(&plan, &id, Verdict { approved }).await,
    };
    match outcome.map_err(|e: RunError| e.to_string())? {
        RunStatus::Done(result) => Ok(format!("result: {result}")),
        RunStatus::Waiting(question) => Ok(format!(
            "waiting: `{}` asks to approve {}; run again with `--answer yes` or `--answer no`",
            question.node, question.question
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(last) => {
            println!("{last}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
