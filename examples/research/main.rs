//! The flagship example: a research agent planned with `plan!`, running against a real HTTP
//! service, with live progress, a timeline of where the time went, and a Perfetto trace.
//!
//! ```sh
//! cargo run --example research                      # the full run (about 2 s)
//! cargo run --example research -- --ci              # a shorter run that checks its own results
//! RUST_LOG=plan_runtime=debug cargo run --example research   # also log every node's span
//! ```
//!
//! The example starts its own backend (axum, on `127.0.0.1:0`): three search sources with
//! different latencies, two mirrors of which one is down, a slow archive that misses its
//! deadline, result pages, a drafting "model", a critic and a publishing endpoint that fails
//! once. The plan searches everything at once under deadlines, reads the result pages at most
//! three at a time, keeps the two best of three drafts, condenses the agent's memory, refines
//! the answer until the critic is satisfied, and publishes with retries.

mod progress;
mod service;
mod steps;

use std::error::Error;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use plan_runtime::prelude::*;
use plan_runtime::report::{Outcome, Recorder, RunReport};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

use steps::*;

const QUESTION: &str = "How do typed plans cancel the work they no longer need?";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let ci = std::env::args().any(|arg| arg == "--ci");
    init_tracing();

    // The CI run scales every latency down; the deadline keeps a wide margin over the sources
    // it must let through (at most 260 ms, scaled) and far below the archive (5 s, scaled).
    let (scale, deadline) = if ci {
        (0.25, Duration::from_millis(250))
    } else {
        (1.0, Duration::from_millis(600))
    };
    let (base, backend) = service::start(scale).await?;
    let services = Services {
        http: reqwest::Client::new(),
        base,
    };

    let research = plan! {
        #![name = "research"]
        parse_question
        >> #[name = "gather"] par(all) {
            #[name = "sources"] #[timeout(deadline)] par(all) { search_web, search_papers, search_code },
            #[name = "mirrors"] par(first) { mirror_eu, mirror_us },
            // Optional: the archive is too slow for the deadline, and `settled` tolerates that.
            #[name = "optional"] par(settled) { #[timeout(deadline)] search_archive },
        }
        >> pick_pages
        >> #[name = "read pages"] each(all, limit = 3) { fetch_page }
        >> build_evidence
        >> #[name = "drafts"] par(n_best(2, by = draft_quality)) { draft_concise, draft_detailed, draft_bulleted }
        >> start_agent
        >> #[name = "memory"] focus(Agent::memory) { condense }
        >> #[name = "refine"] loop(until = good_enough, max = 4) { critique >> revise }
        >> #[retry(3, backoff = 50ms)] publish
    };

    println!(
        "The plan, as a Mermaid graph:\n\n{}",
        research.graph().to_mermaid()
    );

    let (recorder, events) = Recorder::with_events();
    let progress = tokio::spawn(progress::show(events, research.graph()));
    let outcome = research
        .run_recorded(QUESTION.to_owned(), &services, &recorder)
        .await;
    let report = recorder.into_report(); // ends the event stream, and so the progress display
    let tally = progress.await?;
    let published = outcome?;

    println!(
        "\nQuestion: {QUESTION}\nAnswer:   {}\nReceipt:  {}\n",
        published.answer, published.receipt
    );
    println!("{report}");
    let pages_at_once = backend.max_pages_in_flight.load(Ordering::SeqCst);
    println!(
        "result pages served at once, counted by the server: at most {pages_at_once} (limit = 3)"
    );

    let trace = trace_path();
    std::fs::create_dir_all(trace.parent().expect("a file in a directory"))?;
    std::fs::write(&trace, serde_json::to_vec(&report.chrome_trace())?)?;
    println!(
        "Perfetto trace: {} (open it at https://ui.perfetto.dev)",
        trace.display()
    );

    if ci {
        check(&published, &report, &trace, pages_at_once, tally)?;
        println!("--ci: answer, report and trace checked");
    }
    Ok(())
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

/// `target/research.trace.json`, honouring `CARGO_TARGET_DIR`.
fn trace_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("research.trace.json")
}

/// What the CI run insists on: an answer, the behaviour the service was built to provoke, and
/// a trace file that a trace viewer can load.
fn check(
    published: &Published,
    report: &RunReport,
    trace: &PathBuf,
    pages_at_once: usize,
    progress: progress::Tally,
) -> Result<(), Box<dyn Error>> {
    let outcome = |name: &str| report.find(name).map(|n| n.outcome.clone());
    let expect = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("--ci: {what}"))
        }
    };
    expect(!published.answer.is_empty(), "the answer is empty")?;
    expect(
        published.receipt.starts_with("published"),
        "publishing failed",
    )?;
    expect(
        matches!(outcome("search_archive"), Some(Outcome::TimedOut { .. })),
        "the archive should miss its deadline",
    )?;
    expect(
        matches!(outcome("mirror_eu"), Some(Outcome::Failed { .. })),
        "the broken mirror should fail",
    )?;
    expect(
        report.find("publish").is_some_and(|n| n.attempts == 2),
        "publish should take two attempts",
    )?;
    expect(
        (1..=3).contains(&pages_at_once),
        "at most 3 pages may be fetched at once",
    )?;
    expect(report.concurrency > 1.0, "searches should overlap")?;
    // Every step of this plan runs at least once, so the bar, which started at the plan's
    // steps and grew with each further pass and page, ends full at the number of step runs.
    let step_runs = report
        .nodes
        .iter()
        .filter(|n| n.kind == plan_runtime::NodeKind::Step)
        .count() as u64;
    expect(
        progress.total == step_runs && progress.finished == step_runs,
        &format!("the progress bar should end at {step_runs}/{step_runs}, not {progress:?}"),
    )?;

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(trace)?)?;
    let events = json["traceEvents"]
        .as_array()
        .ok_or("no traceEvents array")?;
    let complete: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    expect(
        complete.len() == report.nodes.len(),
        "one trace event per node instance",
    )?;
    for event in complete {
        for field in ["name", "cat", "ts", "dur", "pid", "tid", "args"] {
            expect(
                !event[field].is_null(),
                &format!("a trace event lacks `{field}`"),
            )?;
        }
    }
    Ok(())
}
