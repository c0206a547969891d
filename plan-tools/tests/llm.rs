//! The chat-completions client against an in-process axum server that speaks the protocol:
//! completions with usage and tool calls, SSE streams written in tiny chunks, a cut stream,
//! a batch with a failure and a concurrency counter, the key's redaction, and `plan!`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures::StreamExt;
use plan_runtime::prelude::*;
use plan_tools::llm::{
    ApiKey, Chat, ChatMessage, ChatOptions, ChatRequest, Completion, Llm, LlmError, OpenAi,
    StreamEvent, Usage,
};
use plan_tools::sse::{DEFAULT_MAX_EVENT, SseError};
use serde_json::{Value, json};
use tokio::sync::watch;

const KEY: &str = "test-key-123";
/// The batch test's requests and limit; the server's counter checks the limit.
const BATCH: usize = 7;
const LIMIT: usize = 3;

#[derive(Default, Clone, Copy, Debug)]
struct Flight {
    started: usize,
    in_flight: usize,
    max_in_flight: usize,
}

struct Shared {
    /// Every request body the server received.
    bodies: Mutex<Vec<Value>>,
    flight: watch::Sender<Flight>,
}

async fn spawn_server() -> (String, Arc<Shared>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::new(Shared {
        bodies: Mutex::new(Vec::new()),
        flight: watch::Sender::new(Flight::default()),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(Arc::clone(&shared));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), shared)
}

fn client(base: &str) -> OpenAi {
    OpenAi::new(base, "test-model").api_key(ApiKey::new(KEY))
}

/// The last message's text: it tells the server what to do.
fn prompt(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned()
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {KEY}") {
        // As some servers do, the error echoes the key it got: the client must redact it.
        let presented = auth.trim_start_matches("Bearer ");
        let message = format!("Incorrect API key provided: {presented}");
        return (
            StatusCode::UNAUTHORIZED,
            json!({"error": {"message": message}}).to_string(),
        )
            .into_response();
    }
    let body: Value = serde_json::from_str(&body).unwrap();
    shared.bodies.lock().unwrap().push(body.clone());
    let prompt = prompt(&body);
    let streamed = body["stream"] == json!(true);
    if streamed {
        // The client must ask for the usage chunk, or token counts would read 0.
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }
    match prompt.as_str() {
        "weather?" => completion_with_tools().into_response(),
        "crash" => (StatusCode::INTERNAL_SERVER_ERROR, "model crashed").into_response(),
        "garbage" => (StatusCode::OK, "not json {").into_response(),
        // Some servers send no usage, or `null`.
        "null usage" => json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "echo: null usage"}}],
            "usage": null
        })
        .to_string()
        .into_response(),
        "stream" => sse(tiny_chunks(&stream_body(true)), None),
        "no usage" => sse(tiny_chunks(&stream_body(false)), None),
        "cut" => {
            // Everything up to the middle of the second content chunk, then a broken connection.
            let body = stream_body(true);
            let cut = body.find("wörld").unwrap() + 3;
            sse(tiny_chunks(&body[..cut]), Some("connection reset"))
        }
        "endless line" => {
            // A first chunk, then 4 MiB of one line that never ends: past the client's 1 MiB
            // cap for an event.
            let body = stream_body(true);
            let hello = body.find("Hello, ").unwrap();
            let first = &body[..hello + body[hello..].find("\r\n\r\n").unwrap() + 4];
            let mut chunks = vec![Bytes::from(first.to_owned()), Bytes::from_static(b"data: ")];
            chunks.extend(std::iter::repeat_n(Bytes::from(vec![b'x'; 64 << 10]), 64));
            sse(chunks, None)
        }
        "endless error" => (StatusCode::INTERNAL_SERVER_ERROR, endless()).into_response(),
        "endless answer" => (StatusCode::OK, endless()).into_response(),
        p if p.starts_with("batch") => batch_item(&shared, p).await,
        p => echo(p).into_response(),
    }
}

/// A body that never ends: 16 KiB of `e` every 10 ms, for ever.
fn endless() -> Body {
    Body::from_stream(futures::stream::unfold((), |()| async {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from(vec![b'e'; 16 << 10])),
            (),
        ))
    }))
}

fn echo(prompt: &str) -> String {
    json!({
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("echo: {prompt}")}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    })
    .to_string()
}

fn completion_with_tools() -> String {
    json!({
        "id": "cmpl-2",
        "object": "chat.completion",
        "model": "test-model",
        "system_fingerprint": "fp_1",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}
                }]
            },
            "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": 42, "completion_tokens": 9, "total_tokens": 51,
                  "prompt_tokens_details": {"cached_tokens": 0}}
    })
    .to_string()
}

/// A streamed answer as OpenAI writes it: a role chunk, content chunks (with `"usage": null`),
/// a tool-call delta in two pieces, the finish, then — when `usage` — the usage-only chunk
/// with `choices: []`, and `[DONE]`. A comment and `\r\n` line ends are mixed in.
fn stream_body(usage: bool) -> String {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "c", "object": "chat.completion.chunk", "model": "test-model",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null})
    };
    let mut out = String::new();
    out += ": keep-alive\n\n";
    for (delta, finish) in [
        (json!({"role": "assistant", "content": ""}), Value::Null),
        (json!({"content": "Hello, "}), Value::Null),
        (json!({"content": "wörld! 😀"}), Value::Null),
        (
            json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":"}}]}),
            Value::Null,
        ),
        (
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"rust\"}"}}]}),
            Value::Null,
        ),
        (json!({}), json!("stop")),
    ] {
        writeln!(out, "data: {}\r\n\r", chunk(delta, finish)).unwrap();
    }
    if usage {
        let last = json!({"id": "c", "object": "chat.completion.chunk", "choices": [],
                          "usage": {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17}});
        write!(out, "data: {last}\n\n").unwrap();
    }
    out += "data: [DONE]\n\n";
    out
}

/// `text` cut into pieces of 1 to 7 bytes, so that every JSON line — and the multi-byte
/// characters in it — is split across chunks.
fn tiny_chunks(text: &str) -> Vec<Bytes> {
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let (mut at, mut size) = (0, 1);
    while at < bytes.len() {
        let end = (at + size).min(bytes.len());
        chunks.push(Bytes::copy_from_slice(&bytes[at..end]));
        at = end;
        size = size % 7 + 1;
    }
    chunks
}

/// A streamed response of `chunks`, each its own body frame; with `cut`, the body then fails,
/// which aborts the connection before the chunked body's end.
fn sse(chunks: Vec<Bytes>, cut: Option<&'static str>) -> Response {
    let frames = futures::stream::iter(chunks.into_iter().map(Ok)).chain(futures::stream::iter(
        cut.map(|why| Err(std::io::Error::other(why))),
    ));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(frames))
        .unwrap()
}

/// One batch request: counted in flight, and held until `LIMIT - 1` requests after it have
/// arrived (or all have), so that `LIMIT` are at the server together whenever the client
/// lets them be. The condition only grows with `started`, so no wake-up is missed; a client
/// that let fewer than `LIMIT` through would stall here (the test's timeout catches that).
async fn batch_item(shared: &Shared, prompt: &str) -> Response {
    let mut arrived = 0;
    shared.flight.send_modify(|f| {
        f.started += 1;
        f.in_flight += 1;
        f.max_in_flight = f.max_in_flight.max(f.in_flight);
        arrived = f.started;
    });
    let release = (arrived + LIMIT - 1).min(BATCH);
    let mut flight = shared.flight.subscribe();
    flight.wait_for(|f| f.started >= release).await.unwrap();
    shared.flight.send_modify(|f| f.in_flight -= 1);
    if prompt == "batch fail" {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "model crashed on this prompt",
        )
            .into_response()
    } else {
        echo(prompt).into_response()
    }
}

#[tokio::test]
async fn completion_with_usage_tool_calls_and_options() {
    let (base, shared) = spawn_server().await;
    let llm = client(&base).defaults(ChatOptions {
        temperature: Some(0.5),
        max_tokens: Some(100),
        ..Default::default()
    });
    let tool = json!({"type": "function", "function": {"name": "get_weather",
                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}});
    let mut request = ChatRequest::new([
        ChatMessage::system("be brief"),
        ChatMessage::user("weather?"),
    ])
    .max_tokens(20)
    .tools([tool.clone()]);
    request.options.extra.insert("top_k".into(), json!(40));

    let completion = llm.call(request).await.unwrap();

    let calls = completion.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].kind.as_str()),
        ("call_1", "function")
    );
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].function.arguments, r#"{"city":"Oslo"}"#);
    assert_eq!(
        completion.choices[0].finish_reason.as_deref(),
        Some("tool_calls")
    );
    assert_eq!(completion.text(), None);
    let usage = &completion.usage;
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (42, 9, 51)
    );
    assert!(!usage.estimated);
    // What the crate does not model passes through.
    assert_eq!(
        usage.extra["prompt_tokens_details"],
        json!({"cached_tokens": 0})
    );
    assert_eq!(completion.extra["system_fingerprint"], json!("fp_1"));
    assert!(completion.choices[0].message.extra.contains_key("refusal"));

    // The request: model, defaults under per-call options, tools and extra fields as given.
    let sent = shared.bodies.lock().unwrap()[0].clone();
    assert_eq!(sent["model"], json!("test-model"));
    assert_eq!(sent["temperature"], json!(0.5));
    assert_eq!(sent["max_tokens"], json!(20));
    assert_eq!(sent["top_k"], json!(40));
    assert_eq!(sent["tools"], json!([tool]));
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert!(sent.get("stream").is_none());

    // The assistant's tool call goes back to the server as it came, with its result.
    let follow_up = ChatRequest::new([
        ChatMessage::user("weather?"),
        completion.choices[0].message.clone(),
        ChatMessage::tool_result("call_1", "sunny"),
    ]);
    llm.call(follow_up).await.unwrap();
    let sent = shared.bodies.lock().unwrap()[1].clone();
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["name"],
        json!("get_weather")
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "tool", "content": "sunny", "tool_call_id": "call_1"})
    );
}

async fn collect(llm: &OpenAi, prompt: &str) -> Vec<Result<StreamEvent, LlmError>> {
    llm.stream(ChatRequest::user(prompt)).collect().await
}

fn text_of(events: &[Result<StreamEvent, LlmError>]) -> String {
    events
        .iter()
        .filter_map(|e| e.as_ref().ok()?.text())
        .collect()
}

#[tokio::test]
async fn the_body_really_arrives_in_tiny_chunks() {
    // The streaming tests below mean something only if the client sees the split.
    let (base, _) = spawn_server().await;
    let response = reqwest::Client::new()
        .post(format!("{base}/chat/completions"))
        .bearer_auth(KEY)
        .body(r#"{"messages":[{"role":"user","content":"stream"}],"stream":true,"stream_options":{"include_usage":true}}"#)
        .send()
        .await
        .unwrap();
    let sizes: Vec<usize> = response
        .bytes_stream()
        .map(|chunk| chunk.unwrap().len())
        .collect()
        .await;
    assert!(sizes.iter().all(|&n| n <= 7), "{sizes:?}");
    assert!(sizes.len() > 100);
}

#[tokio::test]
async fn stream_of_tiny_chunks_ends_with_the_servers_usage() {
    let (base, _) = spawn_server().await;
    let events = collect(&client(&base), "stream").await;

    assert_eq!(text_of(&events), "Hello, wörld! 😀");
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    let arguments: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { delta, .. } => delta.function.as_ref()?.arguments.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(arguments, r#"{"q":"rust"}"#);
    assert!(events.contains(&StreamEvent::Finish {
        choice: 0,
        reason: "stop".into()
    }));
    let StreamEvent::Usage(usage) = events.last().unwrap() else {
        panic!("the last event is the usage: {events:?}")
    };
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (11, 6, 17)
    );
    assert!(!usage.estimated);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Usage(_)))
            .count(),
        1
    );
}

#[tokio::test]
async fn stream_without_usage_before_done_is_estimated() {
    let (base, _) = spawn_server().await;
    let events = collect(&client(&base), "no usage").await;
    let Some(Ok(StreamEvent::Usage(usage))) = events.last() else {
        panic!("{events:?}")
    };
    assert!(usage.estimated);
    // "no usage" is 8 characters: 2 tokens; "Hello, wörld! 😀" 15 and the tool call
    // "lookup" + `{"q":"rust"}` 18: 33 characters, 9 tokens.
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (2, 9, 11)
    );
}

#[tokio::test]
async fn cut_stream_reports_an_estimate_then_the_error() {
    let (base, _) = spawn_server().await;
    let mut events = collect(&client(&base), "cut").await;

    // Only what arrived whole: "Hello, " (the chunk with "wörld" was cut mid-line).
    assert_eq!(text_of(&events), "Hello, ");
    let err = events.pop().unwrap().unwrap_err();
    assert!(matches!(err, LlmError::Body(_)), "{err:?}");
    let Some(Ok(StreamEvent::Usage(usage))) = events.pop() else {
        panic!("the estimate comes before the error: {events:?}")
    };
    assert!(usage.estimated);
    // "cut": 1 token; "Hello, ": 7 characters, 2 tokens.
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1, 2));
}

#[tokio::test]
async fn a_line_past_the_event_cap_ends_the_stream_with_an_error() {
    let (base, _) = spawn_server().await;
    let mut events = collect(&client(&base), "endless line").await;
    let err = events.pop().unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            LlmError::Stream(SseError::TooLarge {
                limit: DEFAULT_MAX_EVENT
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the response stream broke off: a server-sent event is larger than the 1048576-byte cap (raise it with SseDecoder::max_event)"
    );
    // What came before it is kept, and the spend estimated.
    assert!(matches!(events.pop(), Some(Ok(StreamEvent::Usage(u))) if u.estimated));
    assert_eq!(text_of(&events), "Hello, ");
}

#[tokio::test]
async fn batch_keeps_order_isolates_failures_and_holds_the_limit() {
    let (base, shared) = spawn_server().await;
    let llm = client(&base);
    let prompts: Vec<String> = (0..BATCH)
        .map(|i| {
            if i == 2 {
                "batch fail".into()
            } else {
                format!("batch {i}")
            }
        })
        .collect();

    let requests = prompts.iter().map(|p| ChatRequest::user(p.as_str()));
    // A generous deadline: only a broken limit would stall the server's hold.
    let results = tokio::time::timeout(Duration::from_secs(20), llm.batch(requests, LIMIT))
        .await
        .expect("the batch stalled: fewer than LIMIT requests were let through at once");

    assert_eq!(results.len(), BATCH);
    for (i, result) in results.iter().enumerate() {
        if i == 2 {
            let err = result.as_ref().unwrap_err();
            assert_eq!(err.status(), Some(500));
            assert!(err.to_string().contains("model crashed"), "{err}");
        } else {
            let expected = format!("echo: batch {i}");
            assert_eq!(result.as_ref().unwrap().text(), Some(expected.as_str()));
        }
    }
    let flight = *shared.flight.borrow();
    assert_eq!(flight.started, BATCH);
    // At most LIMIT at once, and LIMIT reached (the server held requests until it was).
    assert_eq!(flight.max_in_flight, LIMIT);
}

#[tokio::test]
async fn errors_are_clear_variants() {
    let (base, _) = spawn_server().await;
    let usage = client(&base).call("null usage".into()).await.unwrap().usage;
    // "null usage": 10 characters, 3 tokens; "echo: null usage": 16, 4.
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.estimated
        ),
        (3, 4, true)
    );

    let err = client(&base).call("garbage".into()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Json { excerpt, .. } if excerpt == "not json {"),
        "{err:?}"
    );

    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&closed).call("hi".into()).await.unwrap_err();
    assert!(matches!(err, LlmError::Connect(_)), "{err:?}");
    let events = collect(&client(&closed), "hi").await;
    assert!(
        matches!(events.as_slice(), [Err(LlmError::Connect(_))]),
        "{events:?}"
    );

    assert!(matches!(
        OpenAi::new(&base, "m").api_key_from_env("PLAN_TOOLS_TEST_UNSET_KEY_VAR"),
        Err(LlmError::MissingKey { .. })
    ));
}

#[tokio::test]
async fn an_error_body_is_read_only_as_far_as_its_excerpt() {
    let (base, _) = spawn_server().await;
    // Read whole, the body would never end, and the call with it.
    let llm = client(&base);
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        llm.call("endless error".into()),
    )
    .await
    .expect("the call ends")
    .unwrap_err();
    assert!(
        matches!(&err, LlmError::Status { status: 500, body } if body.starts_with("eee") && body.ends_with('…')),
        "{err}"
    );
    let events = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        collect(&llm, "endless error"),
    )
    .await
    .expect("the stream ends");
    assert!(
        matches!(
            events.as_slice(),
            [Err(LlmError::Status { status: 500, .. })]
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_answer_is_read_only_up_to_the_cap() {
    let (base, _) = spawn_server().await;
    let llm = client(&base).max_body(64 << 10);
    // Read whole, the answer would never end, and the call with it.
    let call = llm.call("endless answer".into());
    let err = tokio::time::timeout(std::time::Duration::from_secs(60), call)
        .await
        .expect("the call ends")
        .unwrap_err();
    assert!(
        matches!(err, LlmError::TooLarge { limit } if limit == 64 << 10),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the server's answer is larger than the 65536-byte cap (raise it with OpenAi::max_body)"
    );
    // Under the cap, an answer is read as before.
    let small = llm.call("hi".into()).await.unwrap();
    assert_eq!(small.choices.len(), 1);
}

/// Captures every span and event, with all their fields, as text.
struct Capture {
    out: Arc<Mutex<String>>,
    next_id: AtomicU64,
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        write!(self.0, " {}={value:?}", field.name()).unwrap();
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut out = self.out.lock().unwrap();
        write!(out, "\nspan {}", span.metadata().name()).unwrap();
        span.record(&mut Fields(&mut out));
        tracing::span::Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.out.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut out = self.out.lock().unwrap();
        write!(out, "\nevent {}", event.metadata().target()).unwrap();
        event.record(&mut Fields(&mut out));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn the_key_is_sent_as_bearer_but_never_shown() {
    let (base, _) = spawn_server().await;
    let captured = Arc::new(Mutex::new(String::new()));
    // The test runtime is single-threaded: the client, and the server, trace into `captured`.
    let _guard = tracing::subscriber::set_default(Capture {
        out: Arc::clone(&captured),
        next_id: AtomicU64::new(1),
    });

    let llm = client(&base);
    // The server accepts the key only as `Authorization: Bearer`.
    assert_eq!(
        llm.call("hi".into()).await.unwrap().text(),
        Some("echo: hi")
    );
    let streamed = collect(&llm, "stream").await;
    assert!(streamed.iter().all(Result::is_ok));
    let cut = collect(&llm, "cut").await;
    let failed = llm.call("crash".into()).await.unwrap_err();

    // A wrong key: the server's error echoes it; the client's error must not.
    const WRONG: &str = "wrong-key-456";
    let wrong = OpenAi::new(&base, "test-model").api_key(WRONG);
    let rejected = wrong.call("hi".into()).await.unwrap_err();
    assert_eq!(rejected.status(), Some(401));
    assert!(
        rejected
            .to_string()
            .contains("Incorrect API key provided: [redacted]"),
        "{rejected}"
    );

    let mut shown = vec![
        format!("{llm:?}"),
        format!("{wrong:?}"),
        format!("{:?} {}", ApiKey::new(KEY), ApiKey::new(KEY)),
        format!("{failed} {failed:?}"),
        format!("{rejected} {rejected:?}"),
        format!("{cut:?}"),
    ];
    // As a plan step's error, with its report.
    let p = plan! { (wrong.clone()) };
    let err = p.run(ChatRequest::user("hi")).await.unwrap_err();
    shown.push(format!("{err} {err:?} {err:#?}"));
    drop(_guard);
    let captured = captured.lock().unwrap().clone();
    assert!(
        captured.contains("span llm.call model=test-model"),
        "{captured}"
    );
    assert!(captured.contains("span llm.stream"), "{captured}");
    shown.push(captured);

    for text in shown {
        assert!(
            !text.contains(KEY) && !text.contains(WRONG),
            "the key shows in: {text}"
        );
    }
}

#[tokio::test]
async fn llm_calls_are_plan_steps() {
    let (base, _) = spawn_server().await;
    let llm = client(&base);

    fn ask(topic: String) -> ChatRequest {
        ChatRequest::user(format!("about {topic}"))
    }
    fn answer(c: Completion) -> String {
        c.text().unwrap_or_default().to_owned()
    }
    fn usage(c: Completion) -> Usage {
        c.usage
    }

    // The client itself is a step; so is any `Llm` through `Chat`, here shared and erased.
    let shared: Arc<dyn Llm> = Arc::new(llm.clone());
    let p = plan! { ask >> par(all) { (llm.clone()) >> answer, (Chat::new(shared)) >> usage } };
    let (text, usage) = p.run("plans".into()).await.unwrap();
    assert_eq!(text, "echo: about plans");
    assert_eq!(usage.total_tokens, 7);

    // A failed call is the step's error, naming its node, with the `LlmError` inside.
    let failing = plan! { #[name = "model"] (Chat::new(llm.clone())) };
    let err = failing.run(ChatRequest::user("crash")).await.unwrap_err();
    assert_eq!(err.kind(), "step");
    assert_eq!(err.node().name, "model");
    assert_eq!(
        err.step_error::<LlmError>().and_then(LlmError::status),
        Some(500)
    );
}

#[test]
fn keys_come_from_the_environment() {
    // Cargo sets `CARGO_PKG_NAME` for the test process: a variable known to be set,
    // without `set_var` (unsafe, and racy across tests).
    let key = ApiKey::from_env("CARGO_PKG_NAME").unwrap();
    assert_eq!(key.expose(), "plan-tools");
    assert!(ApiKey::from_env("PLAN_TOOLS_TEST_UNSET_KEY_VAR").is_none());
    let llm = OpenAi::new("http://localhost:11434/v1/", "llama3").without_api_key();
    assert!(!llm.has_api_key());
    assert_eq!(llm.base_url(), "http://localhost:11434/v1");
}
