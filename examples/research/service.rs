//! The fake research backend the example talks to over real HTTP: an axum app on
//! `127.0.0.1:0` with search sources of different latencies, two mirrors (one broken), result
//! pages, a drafting "model", a critic and a flaky publishing endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// A search hit: a title and the id of its page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hit {
    pub title: String,
    pub page: u32,
}

/// A result page's text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Page {
    pub id: u32,
    pub text: String,
}

/// A draft of the answer, written in one style.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Draft {
    pub style: String,
    pub text: String,
    pub quality: f64,
}

/// The critic's verdict on an answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    pub score: f64,
    pub advice: String,
}

#[derive(Deserialize)]
pub struct Ask {
    pub q: String,
}

#[derive(Deserialize)]
pub struct Write {
    pub style: String,
    pub evidence: String,
}

/// How the service behaves, and what it saw.
pub struct Backend {
    /// Multiplies every latency (the CI run uses a fraction).
    pub scale: f64,
    pages_in_flight: AtomicUsize,
    /// The most page requests served at once: the plan's `limit` seen from the server side.
    pub max_pages_in_flight: AtomicUsize,
    publish_attempts: AtomicUsize,
}

impl Backend {
    async fn pause(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms).mul_f64(self.scale)).await;
    }
}

/// Starts the service on an ephemeral port; returns its base URL and its state.
pub async fn start(scale: f64) -> std::io::Result<(String, Arc<Backend>)> {
    let backend = Arc::new(Backend {
        scale,
        pages_in_flight: AtomicUsize::new(0),
        max_pages_in_flight: AtomicUsize::new(0),
        publish_attempts: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/search/{source}", get(search))
        .route("/mirror/{region}", get(mirror))
        .route("/page/{id}", get(page))
        .route("/draft", post(draft))
        .route("/critique", post(critique))
        .route("/publish", post(publish))
        .with_state(backend.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, backend))
}

/// Three sources with their own latencies, and an archive far slower than any deadline.
async fn search(
    State(backend): State<Arc<Backend>>,
    Path(source): Path<String>,
    Query(ask): Query<Ask>,
) -> Result<Json<Vec<Hit>>, StatusCode> {
    let (latency, first_page) = match source.as_str() {
        "web" => (120, 1),
        "papers" => (260, 4),
        "code" => (80, 7),
        "archive" => (5_000, 10),
        _ => return Err(StatusCode::NOT_FOUND),
    };
    backend.pause(latency).await;
    let hits = (first_page..first_page + 3)
        .map(|page| Hit {
            title: format!("{source} result {page} on {}", ask.q),
            page,
        })
        .collect();
    Ok(Json(hits))
}

/// Two mirrors of a "related questions" index: `eu` is down, `us` answers.
async fn mirror(
    State(backend): State<Arc<Backend>>,
    Path(region): Path<String>,
) -> Result<Json<Vec<Hit>>, StatusCode> {
    match region.as_str() {
        "eu" => {
            backend.pause(40).await;
            Err(StatusCode::SERVICE_UNAVAILABLE)
        }
        "us" => {
            backend.pause(150).await;
            Ok(Json(vec![Hit {
                title: "related: how plans cancel their losers".into(),
                page: 13,
            }]))
        }
        _ => Err(StatusCode::NOT_FOUND),
    }
}

/// A result page; counts how many are being served at once.
async fn page(State(backend): State<Arc<Backend>>, Path(id): Path<u32>) -> Json<Page> {
    let now = backend.pages_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    backend.max_pages_in_flight.fetch_max(now, Ordering::SeqCst);
    backend.pause(60 + 15 * u64::from(id % 5)).await;
    backend.pages_in_flight.fetch_sub(1, Ordering::SeqCst);
    Json(Page {
        id,
        text: format!("page {id}: plans are typed, concurrent and cancel what they no longer need"),
    })
}

/// The "model": each style takes its own time and comes out at its own quality.
async fn draft(State(backend): State<Arc<Backend>>, Json(ask): Json<Write>) -> Json<Draft> {
    let (latency, quality) = match ask.style.as_str() {
        "concise" => (100, 0.72),
        "detailed" => (320, 0.91),
        _ => (180, 0.83),
    };
    backend.pause(latency).await;
    let words = ask.evidence.split_whitespace().count();
    Json(Draft {
        text: format!(
            "A {} answer drawing on {words} words of evidence.",
            ask.style
        ),
        style: ask.style,
        quality,
    })
}

/// The critic: better with every revision.
async fn critique(
    State(backend): State<Arc<Backend>>,
    Json(answer): Json<String>,
) -> Json<Verdict> {
    backend.pause(60).await;
    let revisions = answer.matches("[revised]").count();
    Json(Verdict {
        score: 0.6 + 0.15 * revisions as f64,
        advice: "cite the sources".into(),
    })
}

/// Fails the first attempt, as publishing endpoints do.
async fn publish(
    State(backend): State<Arc<Backend>>,
    Json(answer): Json<String>,
) -> Result<String, StatusCode> {
    backend.pause(30).await;
    if backend.publish_attempts.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(format!("published {} bytes", answer.len()))
}
