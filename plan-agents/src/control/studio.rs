//! The studio: a web page of the agents and the runs, served at `/` behind the token, and the
//! downloads of a run's report and Chrome trace.
//!
//! The page is plain HTML, CSS and JavaScript with SVG drawings, embedded in the binary: no
//! framework and no build step, so that it works offline, is read in one sitting, and costs
//! the crate nothing to build. Its code and style are the same for everybody and hold no
//! data, so they are served without the token; everything with data (the page's WebSocket,
//! the downloads) asks for it.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use plan_state::store::Store;

use super::Shared;
use super::handshake::{self, Refusal};

const PAGE: &str = include_str!("studio/index.html");
const SCRIPT: &str = include_str!("studio/studio.js");
const STYLE: &str = include_str!("studio/studio.css");

/// `GET /`: the page, for the holder of the token (`?token=`).
pub(super) async fn page<S: Store + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    request: Request,
) -> Response {
    if let Err(refusal) = admit(&shared, &request) {
        return refusal.into_response();
    }
    asset(PAGE, "text/html; charset=utf-8")
}

/// `GET /studio/studio.js`.
pub(super) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /studio/studio.css`.
pub(super) async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// `GET /runs/{id}/report.json`: run `id`'s [`RunReport`](plan_runtime::report::RunReport).
pub(super) async fn report<S: Store + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Path(id): Path<u64>,
    request: Request,
) -> Response {
    download(&shared, &request, id, "report", |report| {
        serde_json::to_vec_pretty(report)
    })
}

/// `GET /runs/{id}/trace.json`: run `id`'s Chrome trace, for Perfetto or `chrome://tracing`.
pub(super) async fn trace<S: Store + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    Path(id): Path<u64>,
    request: Request,
) -> Response {
    download(&shared, &request, id, "trace", |report| {
        serde_json::to_vec(&report.chrome_trace())
    })
}

/// The holder of the token, from the server's own origin (or an allowed one) if a page sends
/// it: the WebSocket's rule.
fn admit<S>(shared: &Shared<S>, request: &Request) -> Result<(), Refusal> {
    handshake::admit(
        &shared.token,
        &shared.origins,
        request.headers(),
        request.uri(),
    )
}

/// Run `id`'s report as `render` writes it, as a JSON file to save.
fn download<S>(
    shared: &Shared<S>,
    request: &Request,
    id: u64,
    what: &str,
    render: impl FnOnce(&plan_runtime::report::RunReport) -> serde_json::Result<Vec<u8>>,
) -> Response {
    if let Err(refusal) = admit(shared, request) {
        return refusal.into_response();
    }
    let Some(run) = shared.api.runs.get(id) else {
        let why = format!("there is no run {id} on the board");
        return Refusal::new(StatusCode::NOT_FOUND, why).into_response();
    };
    match render(&run.report()) {
        Ok(body) => {
            let file = format!("attachment; filename=\"run-{id}-{what}.json\"");
            let mut response = (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response();
            if let Ok(file) = HeaderValue::from_str(&file) {
                response.headers_mut().insert(CONTENT_DISPOSITION, file);
            }
            private(response)
        }
        Err(e) => {
            let why = format!("run {id}'s {what} could not be written: {e}");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, why).into_response()
        }
    }
}

/// One of the page's files, with the headers that keep it to itself: scripts and styles of
/// its own origin only, connections only back to it, no framing, no referrer (the token is in
/// the page's address).
fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = ([(CONTENT_TYPE, HeaderValue::from_static(kind))], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    private(response)
}

/// Never cached, never sniffed, never referred.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &str); 3] = [
        (CACHE_CONTROL, "no-store"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
