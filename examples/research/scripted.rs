//! The scripted model: an OpenAI-compatible chat-completions server (axum, on `127.0.0.1:0`,
//! in this process) that answers from a script, since no model can run here. It speaks the
//! wire format `plan_tools::llm::OpenAi` uses — a `chat.completion` with `usage`, or, for
//! `"stream": true`, server-sent `chat.completion.chunk`s ending with a usage chunk and
//! `[DONE]` — so pointing the agent at a real server (`--base-url URL --model NAME`) changes
//! nothing else.
//!
//! It recognises the agent's prompts ([`crate::prompts`]) and counts tokens at four
//! characters a token.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::prompts;

/// Starts the scripted model; its base URL (`http://127.0.0.1:PORT/v1`).
pub async fn start() -> std::io::Result<String> {
    let app = Router::new().route("/v1/chat/completions", post(complete));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

/// The scripted answer to a conversation.
fn answer(system: &str, user: &str) -> String {
    match system {
        prompts::PLAN => {
            let mut tasks = vec![
                json!({"source": "docs", "query": "how a plan cancels its branches"}),
                json!({"source": "issues", "query": "budgets and deadlines in every run"}),
                json!({"source": "changelog", "query": "durable runs"}),
            ];
            // A deliberate fault, until the agent remembers that it failed: a source that
            // does not exist, as real models sometimes invent.
            if !user.contains("forum") {
                tasks.push(json!({"source": "forum", "query": "deliberate fault: no such source"}));
            }
            json!({ "tasks": tasks }).to_string()
        }
        prompts::DRAFT if user.contains("Style: brief") => {
            "Plans cancel the work they no longer need by dropping it [docs].".to_owned()
        }
        prompts::DRAFT if user.contains("Style: thorough") => {
            "A plan is a value, and dropping a running plan cancels every branch in flight \
             [docs]; budgets and deadlines bound what a run may still spend [issues]."
                .to_owned()
        }
        prompts::DRAFT => "Losing branches of `par(first)` are dropped, and so cancelled [docs]; \
                           a killed durable run continues where it stopped [changelog]."
            .to_owned(),
        prompts::REVISE => "Dropping a running plan cancels every branch in flight, so \
                            `par(first)` and deadlines stop what is no longer needed [docs]; \
                            budgets bound the rest [issues], and a durable run killed midway \
                            resumes without redoing finished calls [changelog]."
            .to_owned(),
        prompts::SYNTHESIZE => "Typed plans cancel work by dropping it: when `par(first)` has \
                                its winner or a deadline passes, every branch still in flight \
                                is dropped and stops [docs]. Budgets bound what a run may \
                                still spend [issues], and a durable run killed midway resumes \
                                without repeating a finished call [changelog]."
            .to_owned(),
        _ => "The scripted model has no answer for this prompt.".to_owned(),
    }
}

fn tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

async fn complete(Json(request): Json<Value>) -> Response {
    let text_of = |role: &str| {
        let messages = request["messages"].as_array().into_iter().flatten();
        messages
            .filter(|m| m["role"] == role)
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (system, user) = (text_of("system"), text_of("user"));
    let text = answer(&system, &user);
    let prompt_tokens = tokens(system.len() + user.len());
    let completion_tokens = tokens(text.len());
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    if request["stream"] == true {
        let with_usage = request["stream_options"]["include_usage"] == true;
        return streamed(&text, with_usage.then_some(usage));
    }
    Json(json!({
        "id": "scripted-1",
        "object": "chat.completion",
        "model": request["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }],
        "usage": usage,
    }))
    .into_response()
}

/// `text` as server-sent chunks of a few words, paced as a model's tokens are, then the
/// usage chunk (if asked for) and `[DONE]`.
fn streamed(text: &str, usage: Option<Value>) -> Response {
    let chunk = |delta: Value, finish: Value| {
        json!({"object": "chat.completion.chunk", "model": "scripted",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    for piece in words.chunks(3) {
        events.push(chunk(json!({"content": piece.concat()}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    if let Some(usage) = usage {
        events.push(json!({"object": "chat.completion.chunk", "choices": [], "usage": usage}));
    }
    let mut lines: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    lines.push("data: [DONE]\n\n".to_owned());
    let paced = futures::stream::iter(lines).then(|line| async move {
        tokio::time::sleep(Duration::from_millis(15)).await;
        Ok::<_, Infallible>(Bytes::from(line))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(paced),
    )
        .into_response()
}
