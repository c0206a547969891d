//! The flagship example: a research agent on the whole stack. A model plans tool tasks, the
//! tools read HTTP sources in parallel, a model drafts, an evaluator picks, a loop revises
//! and a model writes the answer, streamed — as a durable run with a budget, remembering
//! earlier runs in SQLite, with live progress, a timeline and a Perfetto trace.
//!
//! ```sh
//! cargo run --example research                                    # no setup: a scripted model
//! cargo run --example research -- --base-url http://127.0.0.1:8080/v1 --model qwen2.5-7b-instruct
//! cargo run --example research -- --run-id ID                     # continue a run that was killed
//! cargo run --example research -- --budget-requests 3             # a budget too small: exit 1
//! cargo run --example research -- --graph                         # also print the plan (Mermaid)
//! RUST_LOG=plan_runtime=debug cargo run --example research        # also log every node's span
//! ```
//!
//! * `agent.rs`: the plan and its steps; `prompts.rs`: what it asks the model.
//! * `scripted.rs`: the scripted OpenAI-compatible model server, used when no `--base-url`
//!   is given (no model can run here); `sources.rs`: the HTTP sources the tools read.
//! * `streamed.rs`: the model call streamed to the terminal; `memory.rs`: what is kept
//!   between runs.
//! * `progress.rs` and `console.rs`: the live display.
//!
//! The `chaos` example (`cargo run --example chaos`, in plan-agents) runs this agent too —
//! `agent.rs` and the modules it uses, by path — against servers that fail on purpose.
//!
//! `--store sqlite:PATH` (default `target/research.db`) holds the runs' journals and the
//! agent's memory. Every model and tool call is journaled as it finishes: kill a run (it
//! prints its id) and run it again with `--run-id ID`, and no finished call is made again.
//! The last two lines are `answer: …` and `usage: prompt P, completion C, total T` (the
//! model tokens of the whole run). A run that fails — its budget spent — exits 1 with the
//! reason; a bad command line exits 64. `--pause-after plan|tools` stops a run there for good,
//! once what ran before is journaled: a fixed point to kill it at (the tests do).

mod agent;
mod console;
mod memory;
mod options;
mod progress;
mod prompts;
mod scripted;
mod sources;
mod streamed;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use plan_runtime::prelude::*;
use plan_runtime::report::Recorder;
use plan_state::runs::{RunStatus, Runs};
use plan_state::store::Sqlite;
use plan_tools::budget::Budget;
use plan_tools::http::{Http, RetryPolicy};
use plan_tools::limit::{Limits, RateLimit};
use plan_tools::llm::{OpenAi, Usage};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

use agent::{Ctx, Finished};
use console::{Console, one_line, with_causes};
use options::Options;

const QUESTION: &str = "How do typed plans cancel the work they no longer need?";

/// `EX_USAGE` of sysexits.h: the command was used incorrectly.
const BAD_USAGE: u8 = 64;

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options::parse(std::env::args().skip(1), target_dir()) {
        Ok(options) => options,
        Err(problem) if problem.is_empty() => {
            println!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("research: {problem}\n{}", options::USAGE);
            return ExitCode::from(BAD_USAGE);
        }
    };
    init_tracing();
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("research: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    if let Some(dir) = options.store.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let store = Sqlite::open(&options.store)
        .await
        .map_err(|e| format!("cannot open the store {}: {e}", options.store.display()))?;
    let store = Arc::new(store);
    let console = Console::new(progress::bar(), false);

    let model = match &options.model {
        Some((url, name)) => {
            println!("model: {name} at {url}");
            OpenAi::new(url, name)
        }
        None => {
            let url = scripted::start().await.map_err(|e| e.to_string())?;
            println!(
                "model: SCRIPTED — no model can run here, so a scripted OpenAI-compatible server \
                 at {url} answers from a script (--base-url URL --model NAME for a real one)"
            );
            println!(
                "  its plan names a `forum` source that does not exist: a deliberate fault, to \
                 show a failed task isolated (once remembered, later runs leave it out)"
            );
            OpenAi::new(url, "scripted").without_api_key()
        }
    };
    let sources = sources::start(console.clone())
        .await
        .map_err(|e| e.to_string())?;
    let host = sources.trim_start_matches("http://").to_owned();
    println!("sources: {sources} (the only host the tools may call; 2 calls at once, 10 a second)");
    // The tools: allowlisted, retrying transient failures, rate-limited.
    let http = Http::builder()
        .allow([host])
        .retry(RetryPolicy::new(3).backoff(Duration::from_millis(50)))
        .build();
    let tool = Limits::new()
        .rate(RateLimit::per_second(10).burst(2))
        .wrap(http);

    let mut mind = memory::recall(store.clone())
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", mind.state.summary());
    let recollection = mind.state.recollection();
    if !recollection.is_empty() {
        println!("memory: the planning prompt is told “{recollection}”");
    }

    let research = agent::research(model, tool, console.clone());
    if options.graph {
        println!("{}", research.graph().to_mermaid());
    }

    let id = options.run_id.clone().unwrap_or_else(new_run_id);
    let budget = Budget::new().requests(options.budget_requests);
    println!(
        "run: {id} (a budget of {} requests; to continue it after a crash: --run-id {id})",
        options.budget_requests
    );
    let ctx = Ctx {
        question: QUESTION.to_owned(),
        sources,
        recollection,
        console: console.clone(),
        pause_after: options.pause_after,
        usage: Mutex::new(Usage::default()),
        tasks: Mutex::default(),
        sources_answered: Mutex::default(),
    };

    let (recorder, events) = Recorder::with_events();
    let progress = tokio::spawn(progress::show(
        events,
        research.graph(),
        console.bar().clone(),
    ));
    let runs = Runs::shared(store.clone());
    let outcome = runs
        .run(&research, &id, QUESTION.to_owned())
        .ctx(&ctx)
        .with(&budget)
        .monitor(&recorder)
        .await;
    let report = recorder.into_report(); // ends the event stream, and so the progress display
    let _ = progress.await;
    if report.nodes.is_empty() {
        // Nothing ran: the run had finished, or could not start (the error says why).
        if let Ok(RunStatus::Done(_)) = outcome {
            println!("run {id} had finished: its recorded result, and nothing run again");
        }
    } else {
        println!("\n{report}");
        let totals = report.totals();
        let total = |name: &str| totals.iter().find(|(n, _)| *n == name).map_or(0.0, |t| t.1);
        println!(
            "durable: {} call(s) journaled by this process, {} replayed from the journal; \
             budget: {} of {} requests spent",
            total("journaled"),
            total("replayed"),
            budget.spent().requests,
            options.budget_requests
        );
        write_trace(&report)?;
    }

    let finished: Finished = match outcome {
        Ok(RunStatus::Done(finished)) => finished,
        Ok(RunStatus::Waiting(question)) => return Err(format!("the run waits on {question:?}")),
        Err(err) if budget.spent().requests >= options.budget_requests => {
            return Err(format!(
                "{} (all {} requests of the budget are spent: raise it with --budget-requests N)",
                with_causes(&err),
                options.budget_requests
            ));
        }
        Err(err) => return Err(with_causes(&err)),
    };
    mind.state.learn(&id, &finished);
    let remembered = mind.state.answers.len();
    memory::keep(store, mind).await.map_err(|e| e.to_string())?;
    println!("memory: saved; {remembered} run(s) remembered");
    println!("answer: {}", one_line(&finished.answer));
    let Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens,
        ..
    } = finished.usage;
    println!("usage: prompt {prompt_tokens}, completion {completion_tokens}, total {total_tokens}");
    Ok(())
}

/// A fresh run id: the time, to the millisecond.
fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("research-{}", now.as_millis())
}

/// `target/research.trace.json`: the run's Perfetto trace.
fn write_trace(report: &plan_runtime::report::RunReport) -> Result<(), String> {
    let trace = target_dir().join("research.trace.json");
    let json = serde_json::to_vec(&report.chrome_trace()).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(target_dir())
        .and_then(|()| std::fs::write(&trace, json))
        .map_err(|e| format!("cannot write {}: {e}", trace.display()))?;
    println!(
        "Perfetto trace: {} (open it at https://ui.perfetto.dev)",
        trace.display()
    );
    Ok(())
}

/// `target/`, honouring `CARGO_TARGET_DIR`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    )
}

/// `RUST_LOG` (for example `plan_runtime=debug`) turns on logs, with every node's span
/// closing as a line with its timings; by default only warnings print.
fn init_tracing() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::WARN));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_span_events(FmtSpan::CLOSE),
        )
        .with(filter)
        .init();
}
