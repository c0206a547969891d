//! A model call in a durable run: `#![durable]` over `prompt >> model >> answer` journals the
//! request and the completion, so a finished run run again asks the model nothing, against
//! an OpenAI-compatible axum server that counts the requests it gets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use axum::Json;
use axum::routing::post;
use plan_runtime::prelude::*;
use plan_state::runs::Runs;
use plan_state::store::Sqlite;
use plan_tools::llm::{ChatRequest, Completion, OpenAi};
use serde_json::{Value, json};

fn prompt(topic: String) -> ChatRequest {
    ChatRequest::from(format!("One line on {topic}.")).max_tokens(16)
}

fn answer(completion: Completion) -> String {
    completion.text().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_finished_durable_run_asks_the_model_nothing_again() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(request): Json<Value>| {
            let n = counter.fetch_add(1, SeqCst) + 1;
            async move {
                let said = request["messages"][0]["content"].as_str().unwrap_or("").to_owned();
                Json(json!({
                    "id": format!("c{n}"),
                    "object": "chat.completion",
                    "model": "small",
                    "choices": [{
                        "index": 0,
                        "message": { "role": "assistant", "content": format!("{said} (answer {n})"), "tool_calls": null },
                        "finish_reason": "stop",
                    }],
                    "usage": { "prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9 },
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let model = OpenAi::new(base, "small");
    let ask = plan! { #![durable] prompt >> (model.clone()) >> answer };
    let runs = Runs::new(Sqlite::open_in_memory().await.unwrap());
    let first = runs.run(&ask, "ask-1", "tokio".to_owned()).await.unwrap();
    assert_eq!(
        first.done().as_deref(),
        Some("One line on tokio. (answer 1)")
    );
    let again = runs.run(&ask, "ask-1", "tokio".to_owned()).await.unwrap();
    assert_eq!(
        again.done().as_deref(),
        Some("One line on tokio. (answer 1)")
    );
    assert_eq!(asked.load(SeqCst), 1, "the model was asked again");
    // Another run asks again.
    let other = runs.run(&ask, "ask-2", "tokio".to_owned()).await.unwrap();
    assert_eq!(
        other.done().as_deref(),
        Some("One line on tokio. (answer 2)")
    );
}
