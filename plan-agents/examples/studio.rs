//! The studio: a web page of agents and runs, live, served by the control API.
//!
//! ```text
//! cargo run -p plan-agents --example studio -- --serve 127.0.0.1:7070
//! ```
//!
//! It starts four agents and keeps runs going, and prints three lines before serving, for a
//! person or a script: `studio: http://ADDR/?token=TOKEN` (open it in a browser),
//! `agents: NAME, …` and `nodes: NAME, …` (the steps of its plans). Then it serves until
//! interrupted.
//!
//! * `researcher` runs a research plan every 3 s, each run on the page: a query planned,
//!   three searches raced with `par(first)` (the winner shown, the losers cancelled), three
//!   drafts by a scripted model ranked with `n_best` (their scores and ranks shown; tokens
//!   and dollars counted, and spent from the run's budget, shown against its limits), its
//!   calls behind a rate limit shared by every run (their waits drawn on the timeline), and a
//!   fact check under `#[retry]` that fails one call in three. Before drafting, it reads
//!   its sources with `par(settled)` under a deadline that cuts the slow one off.
//! * `scout` scans every second; `flaky` syncs every 4 s and fails half its attempts, so that
//!   dead letters pile up for the page's replay button; `sleeper` sleeps until woken.
//! * A durable run writes a post and waits for a person to approve it: the page shows its
//!   question with a form (publish it? a note); the answer resumes it, and another starts.
//!
//! The token comes from `PLAN_CONTROL_TOKEN` (at least 16 URL-safe characters), or is made
//! at random. Bind loopback (`127.0.0.1`): the token travels in clear over `http://`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plan_agents::control::{Control, Form, RunBoard, Token};
use plan_agents::schedule::Schedule;
use plan_agents::session::{AgentLimits, Agents, Kind, Sleep, TaskSpec, Turn};
use plan_runtime::budget::{Budget, Charge, Price, PriceTable};
use plan_runtime::prelude::*;
use plan_runtime::{Cx, NodeKind, NodeRef};
use plan_state::runs::{RunStatus, Runs};
use plan_state::store::InMemory;
use plan_state::wait::ask;
use plan_tools::limit::{Limits, RateLimit};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::time::sleep;

/// Runs so far, to vary who wins and what fails.
static RUNS: AtomicU64 = AtomicU64::new(0);

async fn pause(ms: u64) {
    sleep(Duration::from_millis(ms)).await;
}

// ---- the research plan ----------------------------------------------------------------

fn plan_query(topic: String) -> String {
    format!("recent work on {topic}")
}

/// A search that takes `base` ms and up to 120 more, varying by run, so that each wins some.
async fn search(query: String, source: &str, base: u64) -> String {
    let run = RUNS.load(Ordering::Relaxed);
    pause(base + (run * 53 + base * 7) % 120).await;
    format!("{source} hits for {query}")
}

async fn search_web(query: String) -> String {
    search(query, "web", 60).await
}

async fn search_papers(query: String) -> String {
    search(query, "papers", 80).await
}

async fn search_archive(query: String) -> String {
    search(query, "archive", 70).await
}

/// The scripted model's name, for its price.
const MODEL: &str = "scripted";

/// Reads the page the search found.
async fn read_page(hits: String) -> String {
    pause(40).await;
    format!("{hits}, read")
}

/// Reads the archive's scans: slower than the sources' deadline, so it is cut off.
async fn read_scans(hits: String) -> String {
    pause(600).await;
    format!("{hits}, scanned")
}

/// What the sources gave, those cut off left out.
fn gather((page, scans): (Result<String, PlanError>, Result<String, PlanError>)) -> String {
    [page, scans]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
}

/// A scripted model: answers after `ms` ms, spends from the run's budget and counts what a
/// real model's call would (the run's monitor sums it per node: tokens, dollars, requests).
#[derive(Clone)]
struct Model {
    style: &'static str,
    ms: u64,
}

impl Describe for Model {}

impl<C: Sync> Plan<String, C> for Model {
    type Out = String;

    async fn call(&self, prompt: String, cx: Cx<'_, C>) -> Result<String, PlanError> {
        let charge = Charge::tokens(prompt.len() as u64 / 4, self.ms * 3).model(MODEL);
        let budget = cx.extension::<Budget>();
        let call = budget
            .map(|budget| budget.admit(&charge))
            .transpose()
            .map_err(|over| PlanError::step(NodeRef::current(&cx), over))?;
        pause(self.ms).await;
        let draft = format!("a {} draft from {prompt}", self.style);
        if let Some(call) = call {
            call.settle(&charge);
        }
        if let Some(monitor) = cx.monitor() {
            let (tokens_in, tokens_out) = (charge.input_tokens as f64, charge.output_tokens as f64);
            monitor.count("tokens_in", tokens_in);
            monitor.count("tokens_out", tokens_out);
            monitor.count("dollars", (tokens_in + 4.0 * tokens_out) * 1e-6);
            monitor.count("requests", 1.0);
        }
        Ok(draft)
    }
}

/// A research run's budget: its three drafts fit, with room to spare.
fn budget() -> Budget {
    let prices = PriceTable::new().model(MODEL, Price::per_million(1.0, 4.0));
    Budget::new()
        .tokens(4_000)
        .dollars(0.02)
        .requests(6)
        .prices(prices)
}

/// Fails one call in three: `#[retry]` tries again.
async fn fact_check(drafts: Vec<String>) -> Result<Vec<String>, std::io::Error> {
    static CHECKS: AtomicU64 = AtomicU64::new(0);
    pause(30).await;
    if CHECKS.fetch_add(1, Ordering::Relaxed).is_multiple_of(3) {
        return Err(std::io::Error::other("the fact checker timed out"));
    }
    Ok(drafts)
}

// `n_best` scores each branch's output by reference, and the output is a `String`.
#[allow(clippy::ptr_arg)]
fn length(draft: &String) -> usize {
    draft.len()
}

async fn cite(drafts: Vec<String>) -> String {
    pause(20).await;
    format!("{} (with citations)", drafts.join(" / "))
}

fn publish(text: String) -> String {
    format!("published: {text}")
}

/// The research plan, its model calls behind `limits`.
fn research(limits: &Limits) -> impl Plan<String, Out = String> + '_ {
    let brief = Model {
        style: "brief",
        ms: 90,
    };
    let thorough = Model {
        style: "thorough",
        ms: 220,
    };
    let cited = Model {
        style: "cited",
        ms: 150,
    };
    plan! {
        #![name = "research"]
        plan_query
        >> #[name = "search"] par(first) { search_web, search_papers, search_archive }
        >> #[name = "sources"] par(settled, timeout = 250ms) { read_page, read_scans }
        >> gather
        >> #[name = "drafts"] par(n_best(2, by = length)) {
            #[name = "brief"] #[layer(*limits)] (brief),
            #[name = "thorough"] #[layer(*limits)] (thorough),
            #[name = "cited"] #[layer(*limits)] (cited),
        }
        >> #[retry(3, backoff = 40ms)] fact_check
        >> cite
        >> publish
    }
}

// ---- the agents -----------------------------------------------------------------------

/// What the researcher's turns use: the board its runs are shown on, and the rate limit its
/// runs share.
struct Lab {
    board: RunBoard,
    limits: Limits,
}

/// The researcher's task: one research run, on the board.
async fn investigate(mut turn: Turn<u64>, lab: &Lab) -> Result<Turn<u64>, PlanError> {
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let topic = [
        "typed plans",
        "agent runtimes",
        "cancellation",
        "rate limits",
    ][n as usize % 4];
    let plan = research(&lab.limits);
    let watch = lab.board.watch(format!("research: {topic}"), &plan);
    let budget = Arc::new(budget());
    watch.budget(budget.clone());
    let text = plan
        .run(topic.to_owned())
        .with(&*budget)
        .monitor(&*watch)
        .await?;
    turn.state += 1;
    turn.output = json!({ "published": text });
    Ok(turn)
}

async fn scan(mut turn: Turn<u64>) -> Turn<u64> {
    pause(40).await;
    turn.state += 1;
    turn
}

/// Fails every other attempt: with two attempts a task, a quarter of them die.
async fn sync(mut turn: Turn<u64>) -> Result<Turn<u64>, std::io::Error> {
    static SYNCS: AtomicU64 = AtomicU64::new(0);
    pause(60).await;
    if SYNCS.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
        return Err(std::io::Error::other(
            "the inventory service answered 503 Service Unavailable",
        ));
    }
    turn.state += 1;
    Ok(turn)
}

// ---- the durable run that asks ---------------------------------------------------------

/// What the person answers.
#[derive(Serialize, Deserialize)]
struct Verdict {
    approved: bool,
    note: String,
}

async fn write_post(topic: String) -> String {
    pause(150).await;
    format!("Ten things about {topic}")
}

fn decide((post, verdict): (String, Verdict)) -> String {
    match verdict.approved {
        true => format!("published \"{post}\" ({})", verdict.note),
        false => format!("shelved \"{post}\" ({})", verdict.note),
    }
}

fn approval() -> impl Plan<String, Out = String> {
    plan! {
        #![name = "approval"]
        let post = #[durable] write_post;
        let verdict = post >> #[name = "approve"] (ask::<Verdict>());
        (post, verdict) >> decide
    }
}

/// Durable runs of the approval plan, one after another, each waiting for its answer.
async fn approvals(board: RunBoard) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let plan = approval();
    let runs = Runs::new(InMemory::new());
    let form = Form::new()
        .yes_no("approved", "Publish it?")
        .text("note", "A note for the writer");
    for n in 1.. {
        let id = format!("post-{n}");
        let watch = board.watch(format!("approval: {id}"), &plan);
        let topic = format!("durable plans, part {n}");
        let mut status = runs.run(&plan, &id, topic).monitor(&*watch).await?;
        while let RunStatus::Waiting(question) = status {
            let Some(answer) = watch.ask(&question, form.clone()).await else {
                return Ok(());
            };
            let verdict: Verdict = serde_json::from_value(answer)?;
            status = runs.resume(&plan, &id, verdict).monitor(&*watch).await?;
        }
        pause(2000).await;
    }
    Ok(())
}

// ---- serving --------------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.as_slice() {
        [] => "127.0.0.1:7070",
        [flag, addr] if flag == "--serve" => addr.as_str(),
        _ => {
            eprintln!("usage: studio [--serve ADDR]");
            return ExitCode::from(64);
        }
    };
    match serve(addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("studio: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let token = Token::from_env("PLAN_CONTROL_TOKEN")?.unwrap_or_else(Token::random);
    let listener = TcpListener::bind(addr).await?;
    let url = format!(
        "http://{}/?token={}",
        listener.local_addr()?,
        token.expose()
    );
    let board = RunBoard::new();
    // Four model calls a second, for every run: a run's three drafts wait their turns.
    let limits = Limits::new().rate(RateLimit::per_second(4).burst(1));
    let lab = Lab {
        board: board.clone(),
        limits: limits.clone(),
    };
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("researcher", Kind::new(plan! { investigate }).ctx(lab))
        .kind("scout", plan! { scan })
        .kind("flaky", plan! { sync })
        .limits(AgentLimits {
            max_attempts: 2,
            min_period: Duration::from_millis(500),
            ..AgentLimits::default()
        })
        .start()
        .await?;
    let names = ["researcher", "scout", "flaky", "sleeper"];
    for (name, kind) in names.iter().zip(["researcher", "scout", "flaky", "scout"]) {
        agents.create(name, kind, None).await?;
    }
    let every = |ms| Schedule::every(Duration::from_millis(ms));
    agents
        .every("researcher", every(3000)?, TaskSpec::new("research"))
        .await?;
    agents
        .every("scout", every(1000)?, TaskSpec::new("scan"))
        .await?;
    agents
        .every("flaky", every(4000)?, TaskSpec::new("sync"))
        .await?;
    agents
        .sleep("sleeper", Sleep::indefinitely().or_event("deploy"))
        .await?;
    tokio::spawn(approvals(board.clone()));

    // The steps of every plan it runs, by name, each once.
    let mut nodes: Vec<&str> = Vec::new();
    let graphs = [
        research(&limits).graph(),
        approval().graph(),
        plan! { investigate }.graph(),
        plan! { scan }.graph(),
        plan! { sync }.graph(),
    ];
    for node in graphs.iter().flat_map(|graph| &graph.nodes) {
        if node.kind == NodeKind::Step && !nodes.contains(&node.name) {
            nodes.push(node.name);
        }
    }

    let control = Control::new(agents, token).runs(board);
    // Flushed, so that a script reading the pipe gets the lines before any client comes.
    let mut out = std::io::stdout().lock();
    writeln!(out, "studio: {url}")?;
    writeln!(out, "agents: {}", names.join(", "))?;
    writeln!(out, "nodes: {}", nodes.join(", "))?;
    out.flush()?;
    drop(out);
    control.serve(listener).await?;
    Ok(())
}
