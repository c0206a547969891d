//! The sources the agent's tools read: an axum app on `127.0.0.1:0`, in this process, with
//! three sources (`docs`, `issues`, `changelog`) that answer `GET /sources/{name}?q=..` with a
//! finding. Each request it serves prints one `[sources]` line, so what the tools did — and
//! did not do again on a rerun — shows in the output.
//!
//! One deliberate fault: `changelog` answers its first request with 503, as a busy service
//! does, so that the HTTP tool's retry shows. An unknown source is a 404.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::console::Console;

/// What a source found for a query: the tool step's output, journaled by the durable run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    pub source: String,
    pub text: String,
}

#[derive(Deserialize)]
struct Ask {
    q: String,
}

struct Sources {
    console: Console,
    /// Whether `changelog` has failed its first request yet.
    changelog_failed: AtomicBool,
}

/// Starts the sources; their base URL.
pub async fn start(console: Console) -> std::io::Result<String> {
    let sources = Arc::new(Sources {
        console,
        changelog_failed: AtomicBool::new(false),
    });
    let app = Router::new()
        .route("/sources/{name}", get(search))
        .with_state(sources);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

async fn search(
    State(sources): State<Arc<Sources>>,
    Path(name): Path<String>,
    Query(ask): Query<Ask>,
) -> Result<Json<Finding>, StatusCode> {
    let say = |status: &str, note: &str| {
        sources
            .console
            .line(&format!("[sources] {name} ({:?}): {status}{note}", ask.q))
    };
    let text = match name.as_str() {
        "docs" => {
            "A plan is a typed value; dropping a running plan cancels every branch in flight, \
                   so `par(first)` and deadlines cancel the work they no longer need."
        }
        "issues" => {
            "Users asked that budgets and deadlines reach every run, durable ones included; \
                     a refused call must not take a rate-limit slot."
        }
        "changelog" => {
            if !sources.changelog_failed.swap(true, Ordering::SeqCst) {
                say(
                    "503",
                    " — deliberate fault: its first request fails; the HTTP tool retries it",
                );
                return Err(StatusCode::SERVICE_UNAVAILABLE);
            }
            "0.1: durable runs journal every finished step, so a run killed with `kill -9` \
             continues where it stopped."
        }
        _ => {
            say("404, no such source", "");
            return Err(StatusCode::NOT_FOUND);
        }
    };
    say("200", "");
    Ok(Json(Finding {
        source: name,
        text: text.split_whitespace().collect::<Vec<_>>().join(" "),
    }))
}
