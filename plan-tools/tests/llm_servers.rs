//! The chat-completions client against the responses real servers send: OpenAI, vLLM (and a
//! vLLM-style server that writes every unset field as `null`), llama.cpp's llama-server,
//! Ollama's `/v1` and LiteLLM's proxy, non-streamed and streamed, with and without usage, with
//! tool calls. Each fixture in `tests/fixtures/llm/` (its first lines say where its shape comes
//! from) is served byte for byte by an axum server and read by the real client: `call`,
//! `batch` and the plan step for a `.json`, `stream` for a `.sse`.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use plan_runtime::prelude::*;
use plan_tools::llm::{ChatRequest, Completion, LlmError, OpenAi, StreamEvent, Usage};
use serde_json::Value;

/// What a fixture must read as.
struct Expected {
    /// The first choice's text, `""` for none.
    text: &'static str,
    /// Its tool calls: name and arguments (for a stream, its deltas joined by index).
    calls: &'static [(&'static str, &'static str)],
    /// Why it finished.
    finish: Option<&'static str>,
    /// The server's usage (prompt, completion, total), or `None` for an estimate.
    usage: Option<(u64, u64, u64)>,
}

const fn text(
    text: &'static str,
    finish: Option<&'static str>,
    usage: Option<(u64, u64, u64)>,
) -> Expected {
    Expected {
        text,
        calls: &[],
        finish,
        usage,
    }
}

/// Every fixture file, by name, with what it must read as.
fn expected(file: &str) -> Expected {
    const STOP: Option<&str> = Some("stop");
    const TOOLS: Option<&str> = Some("tool_calls");
    match file {
        "openai-text.json" => text(
            "Hello! How can I assist you today?",
            STOP,
            Some((19, 10, 29)),
        ),
        "openai-text.sse" => text("Hello! How can I help?", STOP, Some((9, 6, 15))),
        "openai-tools.json" => Expected {
            text: "",
            calls: &[("get_current_weather", "{\n\"location\": \"Boston, MA\"\n}")],
            finish: TOOLS,
            usage: Some((82, 17, 99)),
        },
        "openai-tools.sse" => Expected {
            text: "",
            calls: &[("get_weather", "{\"location\":\"Paris, France\"}")],
            finish: TOOLS,
            usage: Some((64, 15, 79)),
        },
        "vllm-text.json" => text("Paris is the capital of France.", STOP, Some((25, 8, 33))),
        "vllm-tools.json" => Expected {
            text: "",
            calls: &[(
                "get_weather",
                "{\"city\": \"Dallas\", \"unit\": \"fahrenheit\"}",
            )],
            finish: TOOLS,
            usage: Some((210, 26, 236)),
        },
        "vllm-tools.sse" => Expected {
            text: "",
            calls: &[("get_weather", "{\"city\": \"Dallas\"}")],
            finish: TOOLS,
            usage: Some((210, 19, 229)),
        },
        "vllm-style-nulls.json" => text("The answer is 42.", STOP, Some((12, 6, 18))),
        "vllm-style-nulls.sse" => Expected {
            text: "Let me check",
            calls: &[("lookup", "{\"q\": \"rust\"}")],
            finish: TOOLS,
            usage: Some((30, 15, 45)),
        },
        "llamacpp-text.json" => text(
            "Hi there! How can I help you today?",
            STOP,
            Some((14, 11, 25)),
        ),
        "llamacpp-text.sse" => text("Hi there!", STOP, Some((14, 3, 17))),
        "llamacpp-tools.json" => Expected {
            text: "",
            calls: &[("python", "{\"code\":\"print('hi')\"}")],
            finish: TOOLS,
            usage: Some((180, 20, 200)),
        },
        "ollama-tools.json" => Expected {
            text: "",
            calls: &[(
                "get_current_weather",
                "{\"format\":\"celsius\",\"location\":\"Toronto\"}",
            )],
            finish: TOOLS,
            usage: Some((212, 28, 240)),
        },
        // No usage chunk: the client estimates.
        "ollama-tools.sse" => Expected {
            text: "Checking.",
            calls: &[("run_command", "{\"command\":\"ls -la\"}")],
            finish: TOOLS,
            usage: None,
        },
        "litellm-text.json" => text("Hello from the proxy.", STOP, Some((10, 5, 15))),
        "litellm-text.sse" => text("Hello from the proxy.", STOP, Some((10, 5, 15))),
        // All counts `null`: no usage, so an estimate.
        "nulls.json" => text("Still here.", None, None),
        "nulls.sse" => Expected {
            text: "Still here.",
            calls: &[("noop", "")],
            finish: STOP,
            usage: Some((7, 0, 0)),
        },
        other => panic!("fixture {other} has no expectation in this test"),
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llm")
}

/// The fixture files with extension `ext` (`json` or `sse`).
fn fixtures(ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(&format!(".{ext}")))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no .{ext} fixture");
    names
}

/// A fixture's body: the file without its leading `#` lines.
fn body(file: &str) -> Option<String> {
    let text = std::fs::read_to_string(fixtures_dir().join(file)).ok()?;
    let start = text
        .lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| line.len() + 1)
        .sum::<usize>();
    Some(text[start..].to_owned())
}

/// Answers `POST /{fixture}/v1/chat/completions` with `{fixture}.sse` for a streamed request
/// and `{fixture}.json` otherwise.
async fn serve(UrlPath(fixture): UrlPath<String>, request: String) -> Response {
    let request: Value = serde_json::from_str(&request).unwrap();
    let (file, kind) = if request["stream"] == Value::Bool(true) {
        (format!("{fixture}.sse"), "text/event-stream")
    } else {
        (format!("{fixture}.json"), "application/json")
    };
    match body(&file) {
        Some(body) => ([(header::CONTENT_TYPE, kind)], body).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no fixture {file}")).into_response(),
    }
}

/// The server's address, `http://127.0.0.1:PORT`.
async fn spawn_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/{fixture}/v1/chat/completions", post(serve));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A client for fixture `file`'s server.
fn client(server: &str, file: &str) -> OpenAi {
    let fixture = file.rsplit_once('.').unwrap().0;
    OpenAi::new(format!("{server}/{fixture}/v1"), "any-model").without_api_key()
}

fn check_usage(file: &str, usage: &Usage, expected: Option<(u64, u64, u64)>) {
    match expected {
        Some(counts) => {
            let got = (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens,
            );
            assert_eq!(got, counts, "{file}: usage");
            assert!(
                !usage.estimated,
                "{file}: the server's usage is not an estimate"
            );
        }
        None => {
            assert!(
                usage.estimated,
                "{file}: no usage was sent, so it is estimated"
            );
            assert!(
                usage.prompt_tokens > 0,
                "{file}: the estimate counts the prompt"
            );
        }
    }
}

fn check_completion(file: &str, completion: &Completion) {
    let want = expected(file);
    assert_eq!(completion.text().unwrap_or(""), want.text, "{file}: text");
    let calls: Vec<(&str, &str)> = completion
        .tool_calls()
        .iter()
        .map(|c| (c.function.name.as_str(), c.function.arguments.as_str()))
        .collect();
    assert_eq!(calls, want.calls, "{file}: tool calls");
    for call in completion.tool_calls() {
        assert_eq!(call.kind, "function", "{file}: tool call type");
        assert!(!call.id.is_empty(), "{file}: tool call id");
    }
    assert_eq!(
        completion.choices[0].finish_reason.as_deref(),
        want.finish,
        "{file}: finish reason"
    );
    check_usage(file, &completion.usage, want.usage);
}

#[tokio::test]
async fn call_reads_every_servers_completion() {
    let server = spawn_server().await;
    for file in fixtures("json") {
        let completion = client(&server, &file)
            .call(ChatRequest::user("Hello?"))
            .await
            .unwrap_or_else(|err| panic!("{file}: {err}"));
        check_completion(&file, &completion);
    }
}

#[tokio::test]
async fn batch_reads_every_servers_completion() {
    let server = spawn_server().await;
    for file in fixtures("json") {
        let requests = ["Hello?", "Again?", "Once more?"].map(ChatRequest::user);
        let results = client(&server, &file).batch(requests, 2).await;
        assert_eq!(results.len(), 3);
        for result in results {
            let completion = result.unwrap_or_else(|err| panic!("{file}: {err}"));
            check_completion(&file, &completion);
        }
    }
}

#[tokio::test]
async fn the_plan_step_reads_every_servers_completion() {
    let server = spawn_server().await;
    fn ask(question: String) -> ChatRequest {
        ChatRequest::user(question)
    }
    for file in fixtures("json") {
        let model = client(&server, &file);
        let p = plan! { ask >> (model) };
        let completion = p
            .run("Hello?".to_owned())
            .await
            .unwrap_or_else(|err| panic!("{file}: {err}"));
        check_completion(&file, &completion);
    }
}

#[tokio::test]
async fn stream_reads_every_servers_chunks() {
    let server = spawn_server().await;
    for file in fixtures("sse") {
        let want = expected(&file);
        let mut events = Box::pin(client(&server, &file).stream(ChatRequest::user("Hello?")));
        let (mut text, mut calls, mut finish, mut usage) =
            (String::new(), Vec::<(String, String)>::new(), None, None);
        // The plain loop the stream's `Unpin` allows.
        while let Some(event) = events.next().await {
            assert!(usage.is_none(), "{file}: an event after the usage");
            match event.unwrap_or_else(|err: LlmError| panic!("{file}: {err}")) {
                StreamEvent::Text { choice, text: more } => {
                    assert_eq!(choice, 0, "{file}");
                    text += &more;
                }
                StreamEvent::ToolCall { choice, delta } => {
                    assert_eq!(choice, 0, "{file}");
                    let at = delta.index as usize;
                    if calls.len() <= at {
                        calls.resize(at + 1, Default::default());
                    }
                    if let Some(function) = delta.function {
                        calls[at].0 += function.name.as_deref().unwrap_or("");
                        calls[at].1 += function.arguments.as_deref().unwrap_or("");
                    }
                }
                StreamEvent::Finish { reason, .. } => finish = Some(reason),
                StreamEvent::Usage(u) => usage = Some(u),
            }
        }
        assert_eq!(text, want.text, "{file}: text");
        let calls: Vec<(&str, &str)> = calls
            .iter()
            .map(|(n, a)| (n.as_str(), a.as_str()))
            .collect();
        assert_eq!(calls, want.calls, "{file}: tool calls");
        assert_eq!(finish.as_deref(), want.finish, "{file}: finish reason");
        let usage = usage.unwrap_or_else(|| panic!("{file}: no usage event"));
        check_usage(&file, &usage, want.usage);
    }
}

#[test]
fn every_fixture_names_its_source() {
    for file in fixtures("json").into_iter().chain(fixtures("sse")) {
        let text = std::fs::read_to_string(fixtures_dir().join(&file)).unwrap();
        assert!(
            text.starts_with("# "),
            "{file}: no comment saying where its shape comes from"
        );
        // Every fixture has an expectation, so none is served without being checked.
        let _ = expected(&file);
    }
}
