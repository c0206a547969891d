//! The `research` example, which `cargo test` builds next to this test, run as a process:
//!
//! * its output contract: the last two lines are `answer: …` and `usage: prompt P,
//!   completion C, total T`, and it exits 0; a second run with the same store remembers the
//!   first and says so; a budget too small is a non-zero exit naming the budget;
//! * killed with SIGKILL mid-run (after the planning call, after the tool calls) and run
//!   again with the same `--run-id`: no finished model call or tool call is made again,
//!   counted by an OpenAI-compatible server in this test (which outlives the killed process)
//!   and by the lines the example's sources print for every request they serve.

use std::fs::File;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use test_support::processes::{example, kill_when};
use test_support::{TempDir, temp_dir};

/// The system prompt of every request the server got, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// A model that follows no script: it answers `reply N` to everything (so the example's plan
/// is not JSON, and no draft cites a source), streamed or not, as vLLM writes a message
/// (`tool_calls: null`), with usage.
async fn reply(State(seen): State<Seen>, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap();
    let system = body["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let n = {
        let mut seen = seen.lock().unwrap();
        seen.push(system);
        seen.len()
    };
    let text = format!("reply {n}");
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12});
    if body["stream"] == true {
        let chunk = |delta: Value, finish: Value| {
            json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                   "finish_reason": finish}], "usage": null})
        };
        let events = [
            chunk(
                json!({"role": "assistant", "content": "reply ", "tool_calls": null}),
                json!(null),
            ),
            chunk(json!({"content": n.to_string()}), json!(null)),
            chunk(json!({}), json!("stop")),
            json!({"object": "chat.completion.chunk", "choices": [], "usage": usage}),
        ];
        let mut sse: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        sse += "data: [DONE]\n\n";
        return ([(header::CONTENT_TYPE, "text/event-stream")], sse).into_response();
    }
    axum::Json(json!({
        "id": format!("c{n}"),
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text,
                     "tool_calls": null}, "logprobs": null, "finish_reason": "stop"}],
        "usage": usage,
    }))
    .into_response()
}

/// The counting server's base URL, and the requests it has seen.
async fn counting_model() -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(reply))
        .with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

/// A store of its own for each scenario.
struct Scenario {
    dir: TempDir,
}

impl Scenario {
    fn new(name: &str) -> Self {
        Scenario {
            dir: temp_dir(&format!("research-{name}")),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(example("research"));
        let store = format!("sqlite:{}", self.dir.path().join("research.db").display());
        command
            .args(["--store", &store])
            .args(args)
            // The trace goes to the scenario's directory, not the shared target dir.
            .env("CARGO_TARGET_DIR", self.dir.path())
            .env_remove("OPENAI_API_KEY");
        command
    }

    /// Runs the example to its end, off the runtime's threads so that the server serves.
    async fn output(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    /// Starts the example with its stdout going to `file`, in the scenario's directory.
    fn spawn(&self, args: &[&str], file: &str) -> Child {
        let out = File::create(self.dir.path().join(file)).unwrap();
        self.command(args)
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The example's stdout, which must have ended well.
fn succeeded(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(out), stderr(out));
    stdout(out)
}

/// The last two lines: the answer, and the usage's three numbers (the total checked).
fn answer_and_usage(stdout: &str) -> (String, [u64; 3]) {
    let lines: Vec<&str> = stdout.lines().collect();
    let [.., answer, usage] = lines[..] else {
        panic!("fewer than two lines: {stdout}")
    };
    let answer = answer
        .strip_prefix("answer: ")
        .unwrap_or_else(|| panic!("not an answer line: {answer:?}"));
    let numbers: Vec<u64> = usage
        .strip_prefix("usage: prompt ")
        .and_then(|rest| {
            let (prompt, rest) = rest.split_once(", completion ")?;
            let (completion, total) = rest.split_once(", total ")?;
            [prompt, completion, total]
                .iter()
                .map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_else(|| panic!("not a usage line: {usage:?}"));
    let usage = [numbers[0], numbers[1], numbers[2]];
    assert_eq!(usage[0] + usage[1], usage[2], "{stdout}");
    (answer.to_owned(), usage)
}

/// The requests the example's sources served, as it printed them.
fn served(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("[sources] "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_last_and_remembers_the_first_run() {
    let scenario = Scenario::new("contract");
    let first = succeeded(&scenario.output(&[]).await);
    let (answer, usage) = answer_and_usage(&first);
    assert!(answer.contains("[docs]"), "{first}");
    assert!(usage[2] > 0, "{first}");
    assert!(
        first.contains("model: SCRIPTED"),
        "labelled as scripted: {first}"
    );
    assert!(first.contains("nothing remembered yet"), "{first}");
    // The deliberate faults say so, and no raw Mermaid without `--graph`.
    assert!(first.contains("503 — deliberate fault"), "{first}");
    assert!(
        first.contains("\"deliberate fault: no such source\"): 404"),
        "{first}"
    );
    assert!(!first.contains("flowchart"), "{first}");
    assert!(
        scenario.dir.path().join("research.trace.json").exists(),
        "the Perfetto trace"
    );

    let second = succeeded(&scenario.output(&["--graph"]).await);
    assert!(
        second.contains("memory: I remember 1 earlier run(s)"),
        "{second}"
    );
    // What it remembers changes what it does: the source that failed is left out.
    assert!(
        second.contains("the model planned 3 tasks: docs, issues, changelog"),
        "{second}"
    );
    // The source's line, not any "404": a port the example prints may contain those digits.
    assert!(!second.contains("): 404"), "{second}");
    assert!(
        second.contains("flowchart"),
        "--graph prints the plan: {second}"
    );
    answer_and_usage(&second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_too_small_fails_naming_it() {
    let scenario = Scenario::new("budget");
    let out = scenario.output(&["--budget-requests", "3"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}{err}", stdout(&out));
    assert!(
        err.contains("the run's budget of 3 requests is spent"),
        "{err}"
    );
    assert!(
        err.contains("--budget-requests"),
        "says how to change it: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!stdout(&out).contains("answer: "), "{}", stdout(&out));

    let out = scenario.output(&["--budget-requests", "lots"]).await;
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("`lots` is not a number"));
}

/// Kills a run of the example against a counting model at `pause` (`plan` or `tools`), runs
/// it again with the same `--run-id`, and checks that it made every call of an uninterrupted
/// run once: no finished model call, no finished tool call again.
async fn killed_and_rerun(pause: &str) {
    let (base, seen) = counting_model().await;
    let model = ["--base-url", base.as_str(), "--model", "m"];

    // An uninterrupted run: what one run asks of the model and the sources.
    let reference = Scenario::new("reference");
    let whole = succeeded(&reference.output(&model).await);
    let (answer, usage) = answer_and_usage(&whole);
    assert!(
        whole.contains("the model's plan is not valid JSON")
            && whole.contains("using the default tasks"),
        "a plan that is not JSON falls back, and says so: {whole}"
    );
    let asked: Vec<String> = std::mem::take(&mut *seen.lock().unwrap());
    let tool_calls = served(&whole).len();
    assert!(tool_calls >= 3, "{whole}");
    let planning = |asked: &[String]| asked.iter().filter(|s| s.starts_with("You plan")).count();
    assert_eq!(planning(&asked), 1, "{asked:?}");

    // The same run, killed once everything up to `pause` is journaled.
    let scenario = Scenario::new(&format!("kill-{pause}"));
    let args = [&model[..], &["--run-id", "crash", "--pause-after", pause]].concat();
    let child = scenario.spawn(&args, "killed.out");
    let marker = format!("paused after the {pause}");
    kill_when(child, &marker, || {
        scenario.read("killed.out").contains(&marker)
    });
    let killed = scenario.read("killed.out");
    let asked_before = seen.lock().unwrap().len();
    assert_eq!(
        asked_before, 1,
        "only the planning call before the kill: {killed}"
    );
    let served_before = served(&killed).len();
    let expected_before = if pause == "tools" { tool_calls } else { 0 };
    assert_eq!(served_before, expected_before, "{killed}");

    let args = [&model[..], &["--run-id", "crash"]].concat();
    let rerun = succeeded(&scenario.output(&args).await);
    let asked_after: Vec<String> = seen.lock().unwrap().clone();
    assert_eq!(
        planning(&asked_after),
        1,
        "the planning call was journaled and not made again: {asked_after:?}"
    );
    assert_eq!(
        asked_after.len(),
        asked.len(),
        "the model was asked as often as in one uninterrupted run: {asked_after:?}\n{rerun}"
    );
    assert_eq!(
        served_before + served(&rerun).len(),
        tool_calls,
        "the sources served as many requests as in one uninterrupted run:\n{killed}\n{rerun}"
    );
    assert!(
        rerun.contains("replayed from the journal") && !rerun.contains(" 0 replayed"),
        "{rerun}"
    );
    // The same answer (the model numbers its replies in order) and the whole run's usage.
    assert_eq!(answer_and_usage(&rerun), (answer.clone(), usage), "{rerun}");

    // A finished run, run again, asks nothing.
    let again = succeeded(&scenario.output(&args).await);
    assert_eq!(seen.lock().unwrap().len(), asked.len());
    assert!(served(&again).is_empty(), "{again}");
    assert_eq!(answer_and_usage(&again), (answer, usage));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_planning_it_does_not_plan_again() {
    killed_and_rerun("plan").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_tools_it_calls_neither_again() {
    killed_and_rerun("tools").await;
}

/// What an uninterrupted run's budget line says it spent: `budget: N of M requests spent`.
fn requests_spent(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|line| line.contains("requests spent"))
        .unwrap_or_else(|| panic!("no budget line: {stdout}"));
    let after = &line[line.find("budget: ").expect("a budget figure") + "budget: ".len()..];
    after.split(' ').next().unwrap().parse().unwrap()
}

/// A budget holds across `kill -9`: the rerun starts from what the killed process spent,
/// so a budget one request short of a whole run fails the rerun, though the rerun alone
/// needs fewer requests than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_spent_before_a_kill_stays_spent() {
    let (base, seen) = counting_model().await;
    let model = ["--base-url", base.as_str(), "--model", "m"];
    let whole = succeeded(&Scenario::new("budget-reference").output(&model).await);
    let needed = requests_spent(&whole);
    let asked_whole = std::mem::take(&mut *seen.lock().unwrap()).len();

    let scenario = Scenario::new("budget-kill");
    let args = [&model[..], &["--run-id", "b", "--pause-after", "tools"]].concat();
    let child = scenario.spawn(&args, "killed.out");
    let marker = "paused after the tools";
    kill_when(child, marker, || {
        scenario.read("killed.out").contains(marker)
    });
    let killed = scenario.read("killed.out");
    let spent_before = 1 + served(&killed).len() as u64;
    assert!(spent_before >= 2 && spent_before < needed - 1, "{killed}");

    // One request short of the whole run: enough for what is left, were the budget fresh.
    let short = (needed - 1).to_string();
    let args = [
        &model[..],
        &["--run-id", "b", "--budget-requests", short.as_str()],
    ]
    .concat();
    let out = scenario.output(&args).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("the run's budget of {short} requests is spent")),
        "{err}"
    );
    assert!(
        seen.lock().unwrap().len() < asked_whole,
        "the refused call was not sent"
    );

    // Run again with a budget that holds the whole run: it finishes, having sent, over all its
    // attempts, what one uninterrupted run sends.
    let enough = needed.to_string();
    let args = [
        &model[..],
        &["--run-id", "b", "--budget-requests", enough.as_str()],
    ]
    .concat();
    let rerun = succeeded(&scenario.output(&args).await);
    assert_eq!(seen.lock().unwrap().len(), asked_whole, "{rerun}");
    assert_eq!(requests_spent(&rerun), needed, "{rerun}");
}
