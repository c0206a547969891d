//! Chaos runs: the research agent (the root's `research` example) and the multi-agent team
//! (the `multi_agent` example) run again and again against servers that fail on purpose, and
//! what they did is summed up and checked.
//!
//! ```text
//! cargo run --example chaos -- --seed 7 --runs 20 --fault-rate 0.3
//! ```
//!
//! The scripted model server and the HTTP sources of the research example each sit behind a
//! fault proxy ([`test_support::chaos`]) that answers a share (`--fault-rate`) of the
//! requests with a fault — 429 with `Retry-After`, 500, a latency spike, a stream cut
//! mid-way, a malformed chunk, a connection reset — drawn from a schedule seeded with
//! `--seed` (the model's) and `--seed + 1` (the sources'): the same seed gives the same fault
//! to the same request index. The research agent calls both; the team's retriever looks its
//! sub-questions up at the sources. Each agent runs `--runs` times, one run at a time, each
//! run under a deadline (`--deadline-ms`) and a budget of its own.
//!
//! It prints a line per run, what the servers injected, and the summary:
//!
//! ```text
//! runs: 40 (27 succeeded, 13 failed)
//! retries: 20
//! requests: 240 (the servers counted 240)
//! tokens: 11168
//! spend: $0.003200
//! wall: p50 0.23s p99 2.11s
//! invariants: ok
//! ```
//!
//! Retries, tokens and spend come from the runs' reports and budgets: retries are the HTTP
//! tool's (the report's `retries`), the plan's (`#[retry]` attempts) and the team's sessions'
//! (a failed turn tried again); requests, tokens and spend are what the runs' budgets spent
//! (a request the budget admitted and a deadline then dropped counts, though no server may
//! have seen it; the servers' own count is beside it). Then the invariants, over every run:
//! no panic; no run past its deadline (by more than `tally::GRACE`); no budget exceeded; and
//! every failure naming its node. The last line is `invariants: ok` and the exit code 0 —
//! runs that fail are what chaos is for — or `invariants: BROKEN (…)`, naming each broken one
//! and the run, and the exit code 1. A bad command line exits 64.

// The research example's modules and the multi-agent team, by path, so that what runs here
// is what those examples run. What only the research example uses is unused here.
#[path = "../../../examples/research/agent.rs"]
#[allow(dead_code)]
mod agent;
#[path = "../../../examples/research/console.rs"]
#[allow(dead_code)]
mod console;
mod options;
#[path = "../../../examples/research/prompts.rs"]
mod prompts;
#[path = "../../../examples/research/scripted.rs"]
mod scripted;
#[path = "../../../examples/research/sources.rs"]
mod sources;
#[path = "../../../examples/research/streamed.rs"]
mod streamed;
mod tally;
#[path = "../multi_agent/team.rs"]
mod team;

use std::error::Error;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plan_agents::bus::InMemory;
use plan_agents::session::AgentEvent;
use plan_runtime::budget::{Budget, Price, PriceTable};
use plan_runtime::prelude::*;
use plan_runtime::report::{NodeRecord, Outcome, Recorder, RunReport};
use plan_runtime::run::Options;
use plan_state::store::Sqlite;
use plan_tools::http::{Http, Request, Response, RetryPolicy};
use plan_tools::limit::{Limited, Limits, RateLimit};
use plan_tools::llm::OpenAi;
use test_support::chaos::{FaultProxy, Faults};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use agent::Ctx;
use console::{Console, one_line, with_causes};
use sources::Finding;
use tally::{Failure, Ran};

const QUESTION: &str = "How do typed plans cancel the work they no longer need?";
const TEAM_QUESTION: &str = "durable agent runs";

/// `EX_USAGE` of sysexits.h: the command was used incorrectly.
const BAD_USAGE: u8 = 64;

/// What the scripted model costs here: a small hosted model's prices, per million tokens.
const PRICE: (f64, f64) = (0.15, 0.60);

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) if problem.is_empty() => {
            println!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("chaos: {problem}\n{}", options::USAGE);
            return ExitCode::from(BAD_USAGE);
        }
    };
    match chaos(options).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(problem) => {
            eprintln!("chaos: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// The servers, behind their fault proxies, and what every run shares.
struct Servers {
    model: FaultProxy,
    sources: FaultProxy,
    console: Console,
}

/// Runs everything; whether the invariants hold.
async fn chaos(options: options::Options) -> Result<bool, Box<dyn Error>> {
    let console = Console::new(indicatif::ProgressBar::hidden(), true);
    let faults = |seed: u64| {
        Faults::new(seed)
            .spread(options.fault_rate)
            .spike(options.spike)
            .retry_after(options.retry_after)
    };
    let servers = Servers {
        model: FaultProxy::start(&scripted::start().await?, faults(options.seed)).await?,
        sources: FaultProxy::start(
            &sources::start(console.clone()).await?,
            faults(options.seed.wrapping_add(1)),
        )
        .await?,
        console,
    };
    let limits = budget(&options).limits();
    println!(
        "chaos: seed {}, fault rate {}, {} runs of the research agent and of the team, each \
         within {:.2}s and a budget of {} requests, {} tokens, ${}",
        options.seed,
        options.fault_rate,
        options.runs,
        options.deadline.as_secs_f64(),
        options.budget_requests,
        limits.tokens.unwrap_or_default(),
        limits.dollars.unwrap_or_default(),
    );
    let mut runs = Vec::new();
    for number in 1..=options.runs {
        for ran in [
            research(&servers, &options, number).await,
            team(&servers, &options, number).await,
        ] {
            println!("{}", ran.line());
            runs.push(ran);
        }
    }
    let (model, sources) = (servers.model.served(), servers.sources.served());
    println!("faults: model {model}; sources {sources}");
    let (summary, ok) = tally::summary(&runs, model.requests + sources.requests);
    println!("{summary}");
    Ok(ok)
}

/// A run's budget: requests as given; tokens and money for a few calm runs (a calm research
/// run spends about 1,000 tokens and $0.0003: `--fault-rate 0`).
fn budget(options: &options::Options) -> Budget {
    let prices = PriceTable::new().model("scripted", Price::per_million(PRICE.0, PRICE.1));
    Budget::new()
        .requests(options.budget_requests)
        .tokens(5_000)
        .dollars(0.0015)
        .prices(prices)
}

/// The HTTP tool, as the research example builds it: allowlisted to the sources, retrying
/// transient failures, rate-limited.
fn tool(servers: &Servers) -> Limited<Http> {
    let host = servers
        .sources
        .url()
        .trim_start_matches("http://")
        .to_owned();
    let http = Http::builder()
        .allow([host])
        .retry(RetryPolicy::new(3).backoff(Duration::from_millis(50)))
        .build();
    Limits::new()
        .rate(RateLimit::per_second(10).burst(2))
        .wrap(http)
}

/// One run of the research agent, in a task of its own (a panic ends the task, not this).
async fn research(servers: &Servers, options: &options::Options, number: usize) -> Ran {
    let model = OpenAi::new(servers.model.url(), "scripted").without_api_key();
    let plan = agent::research(model, tool(servers), servers.console.clone());
    let ctx = Ctx {
        question: QUESTION.to_owned(),
        sources: servers.sources.url().to_owned(),
        recollection: String::new(),
        console: servers.console.clone(),
        pause_after: None,
        usage: Mutex::default(),
        tasks: Mutex::default(),
        sources_answered: Mutex::default(),
    };
    let budget = budget(options);
    let limits = budget.limits();
    let deadline = options.deadline;
    let started = Instant::now();
    let run = tokio::spawn(async move {
        let (outcome, report) = plan
            .run(QUESTION.to_owned())
            .ctx(&ctx)
            .with(&budget)
            .timeout(deadline)
            .reported()
            .await;
        (outcome.map(drop), report, budget.spent())
    })
    .await;
    let wall = started.elapsed();
    let mut ran = Ran {
        agent: "research",
        number,
        outcome: Ok(()),
        panicked: false,
        report: Recorder::new().into_report(),
        turn_retries: 0,
        spent: Default::default(),
        limits,
        deadline,
        wall,
    };
    match run {
        Ok((outcome, report, spent)) => {
            ran.report = report;
            ran.spent = spent;
            if let Err(err) = outcome {
                ran.panicked = err.is_panic();
                let node = err.node();
                // The run's deadline names the whole plan: the step it cut off says more.
                let node = if err.is_timeout() && node.path.is_empty() {
                    culprit(&ran.report, true)
                } else {
                    (!node.name.is_empty()).then(|| node.to_string())
                };
                ran.outcome = Err(Failure {
                    node,
                    error: with_causes(&err),
                });
            }
        }
        Err(joined) => {
            ran.panicked = joined.is_panic();
            ran.outcome = Err(Failure {
                node: None,
                error: format!("its task ended: {joined}"),
            });
        }
    }
    ran
}

/// One run of the team: started afresh (its own store and bus), asked one question — the
/// run, under the deadline — and stopped; every turn of every agent spends from one budget
/// and is recorded in one report.
async fn team(servers: &Servers, options: &options::Options, number: usize) -> Ran {
    let budget = Arc::new(budget(options));
    let recorder = Arc::new(Recorder::new());
    let deadline = options.deadline;
    let turns = Options::new()
        .shared(budget.clone())
        .monitor(recorder.clone())
        .timeout(deadline);
    let lookup = lookup(tool(servers), servers.sources.url().to_owned());
    let spawned = Instant::now();
    let run = tokio::spawn(async move {
        let dir = test_support::temp_dir("chaos-team");
        let store = Arc::new(Sqlite::open(dir.path().join("agents.db")).await?);
        let mut team = team::start(InMemory::new(), store, lookup, turns).await?;
        let mut events = team.agents.events();
        let mut turns = Turns::default();
        // The run: from the question to the answer and the team stopped (its start, a new
        // store and three agents, is the setting, not the run).
        let started = Instant::now();
        let answer = tokio::select! {
            answer = team.ask(TEAM_QUESTION, deadline) => answer.map(drop),
            () = until_dead(&mut events, &mut turns) => Err("a task was dead-lettered".into()),
        };
        team.stop().await;
        loop {
            match events.try_recv() {
                Ok(event) => turns.heard(event),
                Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        Ok::<_, team::BoxError>((answer, turns, started.elapsed()))
    })
    .await;
    let mut ran = Ran {
        agent: "team",
        number,
        outcome: Ok(()),
        panicked: false,
        report: recorder.report(),
        turn_retries: 0,
        spent: budget.spent(),
        limits: budget.limits(),
        deadline,
        // Until the task ended, unless it says when its run ended.
        wall: spawned.elapsed(),
    };
    // Why it failed, and whether for want of time (no answer by the deadline).
    let failed = match run {
        Ok(Ok((answer, turns, wall))) => {
            ran.wall = wall;
            ran.turn_retries = turns.retried;
            ran.panicked = turns.panicked;
            answer.err().map(|no_answer| {
                let past_deadline = turns.dead.is_none();
                (
                    turns.dead.unwrap_or_else(|| no_answer.to_string()),
                    past_deadline,
                )
            })
        }
        Ok(Err(setup)) => Some((format!("the team did not start: {setup}"), false)),
        Err(joined) => {
            ran.panicked = joined.is_panic();
            Some((format!("its task ended: {joined}"), false))
        }
    };
    if let Some((error, past_deadline)) = failed {
        ran.outcome = Err(Failure {
            node: culprit(&ran.report, past_deadline),
            error: one_line(&error),
        });
    }
    ran
}

/// What the team's sessions said of its turns.
#[derive(Default)]
struct Turns {
    /// Failed attempts that were tried again.
    retried: u64,
    /// Whether an attempt panicked (a session catches it, and tries again).
    panicked: bool,
    /// The error of the first task dead-lettered (after its last attempt).
    dead: Option<String>,
}

impl Turns {
    fn heard(&mut self, event: AgentEvent) {
        if let AgentEvent::TaskFailed { dead, error, .. } = event {
            self.panicked |= error.starts_with("the plan panicked");
            if dead {
                self.dead.get_or_insert(error);
            } else {
                self.retried += 1;
            }
        }
    }
}

/// Hears the sessions' events until a task is dead-lettered.
async fn until_dead(events: &mut broadcast::Receiver<AgentEvent>, turns: &mut Turns) {
    loop {
        match events.recv().await {
            Ok(event) => turns.heard(event),
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => std::future::pending().await,
        }
        if turns.dead.is_some() {
            return;
        }
    }
}

/// The node a failed run names, from its report: for a run past its deadline, the last step
/// it cut off (still running, or dropped); else the last step that failed.
fn culprit(report: &RunReport, past_deadline: bool) -> Option<String> {
    let steps = || {
        report
            .nodes
            .iter()
            .filter(|n| n.kind == plan_runtime::NodeKind::Step)
    };
    let cut_off = |n: &&NodeRecord| matches!(n.outcome, Outcome::Running | Outcome::Cancelled);
    let failed = |n: &&NodeRecord| matches!(n.outcome, Outcome::Failed { .. });
    let node = if past_deadline {
        steps().rfind(cut_off).or_else(|| steps().rfind(failed))
    } else {
        steps().rfind(failed).or_else(|| steps().rfind(cut_off))
    }?;
    let path = if node.path.is_empty() {
        "root"
    } else {
        &node.path
    };
    Some(format!(
        "`{}` ({} at {path}, {})",
        node.name, node.kind, node.location
    ))
}

/// The team's lookup: a sub-question asked of a source (`docs`, `issues` or `changelog`, in
/// turn) through the HTTP tool.
fn lookup(
    http: Limited<Http>,
    sources: String,
) -> impl Plan<team::Subtask, team::Team, Out = String> {
    let ask = move |subtask: team::Subtask| -> Result<Request, String> {
        let source = ["docs", "issues", "changelog"][subtask.index % 3];
        let mut url = reqwest::Url::parse(&sources).map_err(|e| e.to_string())?;
        url.path_segments_mut()
            .map_err(|()| "the sources' URL has no path")?
            .extend(["sources", source]);
        url.query_pairs_mut().append_pair("q", &subtask.question);
        Ok(Request::get(url.as_str()))
    };
    plan! { (ask) >> #[name = "http"] (http) >> read_note }
}

fn read_note(response: Response) -> Result<String, serde_json::Error> {
    Ok(response.json::<Finding>()?.text)
}
