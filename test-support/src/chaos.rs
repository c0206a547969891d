//! Servers that fail on purpose, reproducibly: a [`FaultProxy`] stands in front of an HTTP
//! server (a model server, the sources an agent's tools read) and answers a share of the
//! requests with a [`Fault`] instead of — or on top of — the server's answer. Which request
//! gets which fault is drawn from a seeded schedule ([`Faults::schedule`]): the same seed
//! gives the same fault to the same request index, run after run.
//!
//! | fault | what the client gets |
//! | --- | --- |
//! | [`Fault::RateLimited`] | `429 Too Many Requests` with `Retry-After` (whole seconds) |
//! | [`Fault::ServerError`] | `500 Internal Server Error` |
//! | [`Fault::Slow`] | the server's answer after a latency spike |
//! | [`Fault::Cut`] | the first half of the answer's body, then the connection breaks mid-message (an SSE stream cut mid-way) |
//! | [`Fault::Malformed`] | the answer with a malformed chunk: one event of an SSE stream, or a JSON body, cut to half its text, well framed |
//! | [`Fault::Reset`] | no answer: the connection is reset (TCP RST) once the request has arrived |
//!
//! Every answer closes its connection (`Connection: close`), so that a connection carries one
//! request: the proxy numbers requests as it accepts connections, and a reset hits exactly one
//! request.
//!
//! ```
//! use axum::{Router, routing::get};
//! use test_support::chaos::{Fault, FaultProxy, Faults};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // A server that says hello.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let upstream = format!("http://{}", listener.local_addr().unwrap());
//! let hello = Router::new().route("/hi", get(|| async { "hello" }));
//! tokio::spawn(async move { axum::serve(listener, hello).await });
//!
//! // In front of it, a proxy that answers every request 429, with `Retry-After: 1`.
//! let faults = Faults::new(7).rate(Fault::RateLimited, 1.0);
//! let proxy = FaultProxy::start(&upstream, faults).await.unwrap();
//! let answer = reqwest::get(format!("{}/hi", proxy.url())).await.unwrap();
//! assert_eq!(answer.status(), 429);
//! assert_eq!(answer.headers()["retry-after"], "1");
//! assert_eq!(proxy.served().of(Fault::RateLimited), 1);
//! assert_eq!(proxy.served().to_string(), "requests 1, faulted 1 (429 ×1, 500 ×0, slow ×0, cut ×0, malformed ×0, reset ×0)");
//! # });
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use futures::StreamExt as _;
use tokio::net::{TcpListener, TcpStream};

/// The largest request body the proxy relays (the agents' are a few kilobytes).
const MAX_BODY: usize = 10 << 20;

/// A fault the proxy injects into one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// `429 Too Many Requests`, with `Retry-After`.
    RateLimited,
    /// `500 Internal Server Error`.
    ServerError,
    /// The server's answer, after a latency spike.
    Slow,
    /// Half the answer's body, then the connection breaks mid-message.
    Cut,
    /// The answer with one malformed chunk: an SSE event, or a JSON body, cut to half.
    Malformed,
    /// The connection reset once the request has arrived; no answer.
    Reset,
}

impl Fault {
    /// Every fault, in the order summaries list them.
    pub const ALL: [Fault; 6] = [
        Fault::RateLimited,
        Fault::ServerError,
        Fault::Slow,
        Fault::Cut,
        Fault::Malformed,
        Fault::Reset,
    ];

    /// Its short name in summaries: `429`, `500`, `slow`, `cut`, `malformed`, `reset`.
    ///
    /// ```
    /// use test_support::chaos::Fault;
    /// assert_eq!(Fault::RateLimited.name(), "429");
    /// assert_eq!(Fault::Reset.name(), "reset");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Fault::RateLimited => "429",
            Fault::ServerError => "500",
            Fault::Slow => "slow",
            Fault::Cut => "cut",
            Fault::Malformed => "malformed",
            Fault::Reset => "reset",
        }
    }
}

/// Which faults a [`FaultProxy`] injects, how often, and how: a seed, a rate per fault, the
/// latency spike of [`Fault::Slow`] (200 ms unless set) and the `Retry-After` of
/// [`Fault::RateLimited`] (1 s unless set). No fault at all unless rates are given.
///
/// ```
/// use std::time::Duration;
/// use test_support::chaos::{Fault, Faults};
///
/// let faults = Faults::new(7).spread(0.3).spike(Duration::from_millis(50));
/// let first: Vec<Option<Fault>> = faults.schedule().take(100).collect();
/// // The same seed, the same faults at the same request indices.
/// assert_eq!(first, faults.schedule().take(100).collect::<Vec<_>>());
/// let injected = first.iter().flatten().count();
/// assert!((10..=50).contains(&injected), "{injected} faults in 100 requests at 0.3");
/// ```
#[derive(Clone, Debug)]
pub struct Faults {
    seed: u64,
    rates: Vec<(Fault, f64)>,
    spike: Duration,
    retry_after: Duration,
}

impl Faults {
    /// No faults yet, drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Faults {
            seed,
            rates: Vec::new(),
            spike: Duration::from_millis(200),
            retry_after: Duration::from_secs(1),
        }
    }

    /// `fault` for a share `rate` (0 to 1) of the requests, replacing its rate if it had
    /// one. The rates of all faults add up: past 1 in all, the faults listed last get less
    /// than their share.
    pub fn rate(mut self, fault: Fault, rate: f64) -> Self {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.rates.retain(|(f, _)| *f != fault);
        self.rates.push((fault, rate));
        self.rates.sort_by_key(|(f, _)| *f);
        self
    }

    /// A share `rate` (0 to 1) of the requests faulted, split evenly over every [`Fault`].
    pub fn spread(self, rate: f64) -> Self {
        let each = rate / Fault::ALL.len() as f64;
        Fault::ALL
            .into_iter()
            .fold(self, |faults, fault| faults.rate(fault, each))
    }

    /// The latency spike of [`Fault::Slow`].
    pub fn spike(mut self, spike: Duration) -> Self {
        self.spike = spike;
        self
    }

    /// The `Retry-After` of [`Fault::RateLimited`], sent in whole seconds (rounded down).
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = wait;
        self
    }

    /// The fault of each request, in the order the requests arrive (`None`: no fault), from
    /// a generator seeded with the seed alone: the same for every schedule of these faults.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            rng: fastrand::Rng::with_seed(self.seed),
            rates: self.rates.clone(),
        }
    }
}

/// The fault of each request in turn: an endless iterator ([`Faults::schedule`]).
#[derive(Clone, Debug)]
pub struct Schedule {
    rng: fastrand::Rng,
    rates: Vec<(Fault, f64)>,
}

impl Iterator for Schedule {
    type Item = Option<Fault>;

    fn next(&mut self) -> Option<Option<Fault>> {
        // One draw per request, whatever the rates: a request's fault depends on its index.
        let draw = self.rng.f64();
        let mut below = 0.0;
        for &(fault, rate) in &self.rates {
            below += rate;
            if draw < below {
                return Some(Some(fault));
            }
        }
        Some(None)
    }
}

/// What a [`FaultProxy`] has served: requests, and faults of each kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// Requests (connections) accepted.
    pub requests: u64,
    /// Faults injected, per fault, in the order of [`Fault::ALL`].
    pub faults: [u64; 6],
}

impl Served {
    /// How many requests got `fault`.
    pub fn of(&self, fault: Fault) -> u64 {
        self.faults[fault as usize]
    }

    /// Requests that got a fault.
    pub fn faulted(&self) -> u64 {
        self.faults.iter().sum()
    }
}

/// `requests 12, faulted 5 (429 ×1, 500 ×2, slow ×0, cut ×1, malformed ×1, reset ×0)`.
impl fmt::Display for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requests {}, faulted {} (",
            self.requests,
            self.faulted()
        )?;
        for (i, fault) in Fault::ALL.into_iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{} ×{}", fault.name(), self.of(fault))?;
        }
        f.write_str(")")
    }
}

/// An HTTP proxy on `127.0.0.1:0` that relays requests to one server and injects the faults
/// of a [`Faults`] schedule, counting what it served ([`FaultProxy::served`]). It runs until
/// the runtime it was started on shuts down.
#[derive(Clone, Debug)]
pub struct FaultProxy {
    url: String,
    proxy: Arc<Proxy>,
}

#[derive(Debug)]
struct Proxy {
    /// The server's origin (`http://HOST:PORT`): a request's path and query are appended.
    upstream: String,
    client: reqwest::Client,
    spike: Duration,
    retry_after: Duration,
    schedule: Mutex<Schedule>,
    requests: AtomicU64,
    faults: [AtomicU64; 6],
}

impl FaultProxy {
    /// Starts a proxy for the server at `upstream` (`http://HOST:PORT`, with a base path or
    /// not). An `upstream` that is not an `http://` URL is an error, as is a port that
    /// cannot be bound.
    pub async fn start(upstream: &str, faults: Faults) -> io::Result<FaultProxy> {
        let parsed = reqwest::Url::parse(upstream)
            .ok()
            .filter(|url| url.scheme() == "http" && url.host().is_some())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the upstream `{upstream}` is not an http:// URL"),
                )
            })?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!(
            "http://{}{}",
            listener.local_addr()?,
            parsed.path().trim_end_matches('/')
        );
        let proxy = Arc::new(Proxy {
            upstream: parsed.origin().ascii_serialization(),
            client: reqwest::Client::new(),
            spike: faults.spike,
            retry_after: faults.retry_after,
            schedule: Mutex::new(faults.schedule()),
            requests: AtomicU64::new(0),
            faults: Default::default(),
        });
        let app = Router::new()
            .fallback(answer)
            .with_state(proxy.clone())
            .into_make_service_with_connect_info::<Assigned>();
        let listener = Faulty {
            listener,
            proxy: proxy.clone(),
        };
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FaultProxy { url, proxy })
    }

    /// The proxy's base URL: the upstream's, on the proxy's address
    /// (`http://127.0.0.1:PORT/v1` for an upstream `http://HOST:PORT/v1`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What it has served so far.
    pub fn served(&self) -> Served {
        let mut served = Served {
            requests: self.proxy.requests.load(Ordering::SeqCst),
            ..Served::default()
        };
        for (count, fault) in served.faults.iter_mut().zip(&self.proxy.faults) {
            *count = fault.load(Ordering::SeqCst);
        }
        served
    }
}

impl Proxy {
    /// The next request's fault, counted.
    fn next_fault(&self) -> Option<Fault> {
        let fault = self
            .schedule
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next()
            .flatten();
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(fault) = fault {
            self.faults[fault as usize].fetch_add(1, Ordering::SeqCst);
        }
        fault
    }

    /// The upstream's answer to `request` (its body not read yet); `502` if there is none.
    async fn relay(&self, request: Request) -> Result<reqwest::Response, Response> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|e| bad_gateway(format!("the request's body: {e}")))?;
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut headers = parts.headers;
        headers.remove(axum::http::header::HOST);
        self.client
            .request(parts.method, format!("{}{path}", self.upstream))
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| bad_gateway(format!("the upstream: {e}")))
    }
}

fn bad_gateway(why: String) -> Response {
    (StatusCode::BAD_GATEWAY, why).into_response()
}

/// The proxy's listener: numbers each connection as it is accepted, draws its fault, and
/// resets the ones drawn [`Fault::Reset`] itself.
struct Faulty {
    listener: TcpListener,
    proxy: Arc<Proxy>,
}

/// A connection's fault, for the request it carries ([`ConnectInfo`]).
#[derive(Clone, Copy, Debug)]
struct Assigned {
    fault: Option<Fault>,
}

impl Listener for Faulty {
    type Io = TcpStream;
    type Addr = (SocketAddr, Option<Fault>);

    async fn accept(&mut self) -> (TcpStream, Self::Addr) {
        loop {
            let (stream, peer) = Listener::accept(&mut self.listener).await;
            match self.proxy.next_fault() {
                Some(Fault::Reset) => {
                    tokio::spawn(reset(stream));
                }
                fault => return (stream, (peer, fault)),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok((self.listener.local_addr()?, None))
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, Faulty>> for Assigned {
    fn connect_info(stream: IncomingStream<'_, Faulty>) -> Self {
        Assigned {
            fault: stream.remote_addr().1,
        }
    }
}

/// Resets `stream` once its request has begun to arrive: the client sees its request fail,
/// not its connection fail to open. (`SO_LINGER` of zero makes the close a reset; nothing
/// blocks, as nothing is left to send.)
async fn reset(stream: TcpStream) {
    // Waits for a byte of the request (`readable` alone may be reported before any).
    let _ = stream.peek(&mut [0; 1]).await;
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn answer(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(assigned): ConnectInfo<Assigned>,
    request: Request,
) -> Response {
    let mut response = match assigned.fault {
        Some(Fault::RateLimited) => {
            let seconds = proxy.retry_after.as_secs().to_string();
            let mut refused = refusal(StatusCode::TOO_MANY_REQUESTS, "rate limited");
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                refused.headers_mut().insert(RETRY_AFTER, value);
            }
            refused
        }
        Some(Fault::ServerError) => refusal(StatusCode::INTERNAL_SERVER_ERROR, "server error"),
        fault => {
            if fault == Some(Fault::Slow) {
                tokio::time::sleep(proxy.spike).await;
            }
            match proxy.relay(request).await {
                Err(bad_gateway) => bad_gateway,
                Ok(answer) => faulty(answer, fault).await,
            }
        }
    };
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The upstream's `answer`, passed on as it arrives (a model's stream paced as the model
/// sent it), or — to cut it or make it malformed — read whole, then broken.
async fn faulty(answer: reqwest::Response, fault: Option<Fault>) -> Response {
    let status = answer.status();
    let mut headers = HeaderMap::new();
    if let Some(kind) = answer.headers().get(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, kind.clone());
    }
    if !matches!(fault, Some(Fault::Cut | Fault::Malformed)) {
        return (status, headers, Body::from_stream(answer.bytes_stream())).into_response();
    }
    let body = match answer.bytes().await {
        Ok(body) => body,
        Err(e) => return bad_gateway(format!("the upstream's answer: {e}")),
    };
    if fault == Some(Fault::Cut) {
        return (status, headers, cut(body)).into_response();
    }
    let sse = headers
        .get(CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/event-stream"));
    (status, headers, malformed(&body, sse)).into_response()
}

/// An error answer in the shape OpenAI-compatible servers give.
fn refusal(status: StatusCode, what: &str) -> Response {
    let error = serde_json::json!({
        "error": { "message": format!("{what} (injected by the chaos proxy)"), "type": "chaos" }
    });
    (status, axum::Json(error)).into_response()
}

/// The first half of `body`, then an error: the server drops the connection mid-message.
/// The error comes a moment later, once the headers and the half are sent: an error at once
/// would drop the connection before anything was written, which is a reset, not a cut.
fn cut(body: Bytes) -> Body {
    let half = body.slice(..body.len() / 2);
    let broken = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "cut mid-way by the chaos proxy",
        ))
    };
    let stream = futures::stream::iter([Ok(half)]).chain(futures::stream::once(broken));
    Body::from_stream(stream)
}

/// `body` with one malformed chunk: of an SSE stream, the middle `data:` event (not
/// `[DONE]`) cut to half its text; of anything else, the first half of it.
fn malformed(body: &[u8], sse: bool) -> Bytes {
    let text = String::from_utf8_lossy(body);
    if !sse {
        return Bytes::copy_from_slice(&body[..body.len() / 2]);
    }
    let mut events: Vec<String> = text.split("\n\n").map(str::to_owned).collect();
    let data: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].starts_with("data: ") && events[i] != "data: [DONE]")
        .collect();
    if let Some(&middle) = data.get(data.len() / 2) {
        let event = &mut events[middle];
        let mut keep = (event.len() / 2).max("data: {".len());
        while !event.is_char_boundary(keep) {
            keep -= 1;
        }
        event.truncate(keep);
    }
    Bytes::from(events.join("\n\n"))
}
