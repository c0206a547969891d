//! The `chat` example, which `cargo test` builds next to this test, run as a process against an
//! OpenAI-compatible axum server in this test: the text then `usage: prompt P, completion C,
//! total T` as its last line, streamed and batched (the sums over the batch); the key from
//! `OPENAI_API_KEY` sent and never printed; an unreachable server one line on stderr naming
//! its URL and exit 1; bad arguments exit 64 with the usage line.

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use test_support::processes::example;

const KEY: &str = "sk-chat-example-0123456789";

/// The requests the server got: their `Authorization` header and body.
type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// Answers `echo: PROMPT` (with `max_tokens` when the request set it), the way vLLM-style
/// servers write a message: `tool_calls` and `refusal` `null`. 5 prompt tokens, 2 completion
/// tokens a call; streamed, the text in two chunks and 3 completion tokens.
async fn chat(State(seen): State<Seen>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap();
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    seen.lock().unwrap().push((auth, body.clone()));
    let prompt = body["messages"][0]["content"].as_str().unwrap_or("");
    let mut text = format!("echo: {prompt}");
    if let Some(max) = body["max_tokens"].as_u64() {
        text += &format!(" (max {max})");
    }
    if body["stream"] == json!(true) {
        let (head, tail) = text.split_at(4);
        let chunk = |delta: Value, finish: Value| {
            json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                   "finish_reason": finish}], "usage": null})
        };
        let usage = json!({"object": "chat.completion.chunk", "choices": [],
                           "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}});
        let events = [
            chunk(
                json!({"role": "assistant", "content": head, "tool_calls": null}),
                json!(null),
            ),
            chunk(json!({"content": tail}), json!(null)),
            chunk(json!({}), json!("stop")),
            usage,
        ];
        let mut sse: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        sse += "data: [DONE]\n\n";
        return ([(header::CONTENT_TYPE, "text/event-stream")], sse).into_response();
    }
    let completion = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text,
                     "tool_calls": null, "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    });
    axum::Json(completion).into_response()
}

/// The server's base URL, and what it has seen.
async fn spawn_server() -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

/// Runs the example with `args` (and `OPENAI_API_KEY` set to `key`, or unset) to its end,
/// off the runtime's threads so that the server keeps serving.
async fn chat_example(args: &[&str], key: Option<&str>) -> Output {
    let mut command = Command::new(example("chat"));
    command.args(args).env_remove("OPENAI_API_KEY");
    if let Some(key) = key {
        command.env("OPENAI_API_KEY", key);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The example's output when it succeeded.
fn succeeded(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}{}", stdout(out), stderr(out));
    stdout(out).lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_the_text_then_the_usage_and_sends_the_key() {
    let (base, seen) = spawn_server().await;
    let args = [
        "--base-url",
        &base,
        "--model",
        "m1",
        "--max-tokens",
        "16",
        "hi there",
    ];
    let out = chat_example(&args, Some(KEY)).await;
    assert_eq!(
        succeeded(&out),
        [
            "echo: hi there (max 16)",
            "usage: prompt 5, completion 2, total 7"
        ]
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(seen[0].1["model"], "m1");
    assert!(!stdout(&out).contains(KEY) && !stderr(&out).contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_the_text_then_the_usage() {
    let (base, seen) = spawn_server().await;
    let out = chat_example(
        &["--base-url", &base, "--model", "m", "--stream", "hi"],
        None,
    )
    .await;
    assert_eq!(
        succeeded(&out),
        ["echo: hi", "usage: prompt 5, completion 3, total 8"]
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].1["stream"], true);
    // No key set, none sent: what local servers expect.
    assert_eq!(seen[0].0, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_prints_every_text_then_the_sums() {
    let (base, seen) = spawn_server().await;
    let args = [
        "--base-url",
        &base,
        "--model",
        "m",
        "--batch",
        "3",
        "--concurrency",
        "2",
        "q",
    ];
    let out = chat_example(&args, None).await;
    assert_eq!(
        succeeded(&out),
        [
            "echo: q",
            "echo: q",
            "echo: q",
            "usage: prompt 15, completion 6, total 21"
        ]
    );
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_one_line_and_exit_1() {
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/v1");
    for extra in [&[][..], &["--stream"], &["--batch", "2"]] {
        let mut args = vec!["--base-url", base.as_str(), "--model", "m"];
        args.extend_from_slice(extra);
        args.push("hi");
        let out = chat_example(&args, Some(KEY)).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{extra:?}: one line: {err}");
        assert!(
            err.starts_with("chat: ") && err.contains(&base),
            "{extra:?}: {err}"
        );
        assert!(err.contains("could not connect"), "{extra:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains(KEY),
            "{extra:?}: {err}"
        );
        assert_eq!(stdout(&out), "", "{extra:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_64_with_the_usage_line() {
    let url = "http://127.0.0.1:1/v1";
    for (args, problem) in [
        (&["--model", "m", "hi"][..], "--base-url is required"),
        (&["--base-url", url, "hi"], "--model is required"),
        (&["--base-url", url, "--model", "m"], "PROMPT is required"),
        (
            &["--base-url", url, "--model", "m", "--batch", "x", "hi"],
            "`x` is not a positive number",
        ),
        (
            &[
                "--base-url",
                url,
                "--model",
                "m",
                "--batch",
                "2",
                "--stream",
                "hi",
            ],
            "do not go together",
        ),
        (
            &["--base-url", "not a url", "--model", "m", "hi"],
            "is not a URL",
        ),
        (
            &[
                "--base-url",
                url,
                "--model",
                "m",
                "--temperature",
                "1",
                "hi",
            ],
            "unknown option",
        ),
    ] {
        let out = chat_example(args, None).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains(problem), "{args:?}: {err}");
        assert!(
            err.lines()
                .last()
                .unwrap()
                .starts_with("usage: chat --base-url URL"),
            "{err}"
        );
    }
}
