//! An HTTP step on reqwest: a per-request timeout, retries of transient failures only (with
//! backoff, jitter and `Retry-After`), a retry budget shared by every call, a response size
//! cap, and an optional allowlist of hosts and ports checked before any connection —
//! redirects included.
//!
//! What a request sends as secret — credential headers, the URL's user name and password,
//! secret query parameters (see [`Request`]) — never appears in what the tool shows: its
//! errors (and so a `PlanError`, a run report, a log event) have them scrubbed in every form
//! a server may echo them in ([`redact`](crate::redact)).
//!
//! [`Http`] is a plan step taking a [`Request`] and giving a [`Response`]:
//!
//! ```no_run
//! use plan_runtime::prelude::*;
//! use plan_tools::http::{Http, Request, Response};
//!
//! fn lookup(q: String) -> Request {
//!     Request::get(format!("http://127.0.0.1:8080/search?q={q}"))
//! }
//! fn body(r: Response) -> String {
//!     r.text()
//! }
//!
//! # async fn run() -> Result<(), PlanError> {
//! let http = Http::builder().allow(["127.0.0.1:8080"]).build();
//! let search = plan! { lookup >> (http.clone()) >> body };
//! let page = search.run("plans".to_owned()).await?;
//! # Ok(()) }
//! ```

mod budget;
mod error;
mod journal;
mod request;
mod retry;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use plan_core::{Cx, Describe, Monitor, NodeRef, Plan, PlanError};
use reqwest::header::HeaderMap;

use crate::allow::Allowlist;
use crate::budget::{Budget, Charge};
use crate::redact::{Redactor, shown};

pub use budget::RetryBudget;
pub use error::HttpError;
pub use request::{Request, Response};
pub use retry::RetryPolicy;

use retry::Wait;

/// An HTTP client step. Cheap to clone: clones share the connection pool and the retry
/// budget. See the [module](self) docs.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    budget: RetryBudget,
    max_body: usize,
    allow: Option<Allowlist>,
}

/// Builds an [`Http`].
#[derive(Debug)]
pub struct HttpBuilder {
    timeout: Duration,
    retry: RetryPolicy,
    budget: RetryBudget,
    max_body: usize,
    allow: Option<Allowlist>,
    redirects: usize,
}

impl Http {
    /// An `Http` with the defaults: 30 s per request, [`RetryPolicy::default`], retries within
    /// 20 % of the calls of the last 10 s (at least 10), bodies up to 10 MiB, up to 10
    /// redirects, any host.
    pub fn new() -> Self {
        Http::builder().build()
    }

    /// Starts an `Http` with the defaults of [`Http::new`].
    pub fn builder() -> HttpBuilder {
        HttpBuilder {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            budget: RetryBudget::new(0.2, 10, Duration::from_secs(10)),
            max_body: 10 << 20,
            allow: None,
            redirects: 10,
        }
    }

    /// Sends `request`, retrying as the policy says, and reads the whole answer. An answer
    /// with a status of 400 or more is an error ([`HttpError::Status`]).
    pub async fn send(&self, request: Request) -> Result<Response, HttpError> {
        self.send_within(request, None).await
    }

    /// [`Http::send`], with every attempt spending a request from `budget`: an attempt the
    /// budget would not admit is not sent ([`HttpError::OverBudget`]). As a plan step, `Http`
    /// spends from the [`Budget`] its run carries, if any.
    pub async fn send_within(
        &self,
        request: Request,
        budget: Option<&Budget>,
    ) -> Result<Response, HttpError> {
        self.send_counted(request, budget, None).await
    }

    /// [`Http::send_within`], counting every attempt (`requests`), every successful one
    /// (`requests_ok`) and every retry (`retries`) on `monitor`.
    async fn send_counted(
        &self,
        request: Request,
        budget: Option<&Budget>,
        monitor: Option<&dyn Monitor>,
    ) -> Result<Response, HttpError> {
        let count = |counter, amount| {
            if let Some(monitor) = monitor {
                monitor.count(counter, amount);
            }
        };
        let method = request.method.to_string();
        let url = shown(&request.url);
        if let Some(reason) = &request.invalid {
            return Err(HttpError::Invalid {
                reason: format!("{method} {url}: {reason}"),
            });
        }
        let parsed = reqwest::Url::parse(&request.url).map_err(|err| HttpError::Invalid {
            reason: format!("`{url}`: {err}"),
        })?;
        let (parsed, secrets) = request.resolve(parsed, &self.client);
        if let Some(allow) = &self.allow
            && !allow.admits_url(&parsed)
        {
            return Err(HttpError::NotAllowed {
                host: parsed.host_str().unwrap_or_default().to_owned(),
                port: parsed.port_or_known_default(),
            }
            .scrubbed(&secrets));
        }
        self.budget.deposit();
        let mut attempt = 1;
        loop {
            let reservation = budget.map(|b| b.admit(&Charge::request())).transpose()?;
            let outcome = self
                .attempt(&request, &parsed, &method, &url, &secrets)
                .await;
            if let Some(reservation) = reservation {
                match &outcome {
                    // No connection, nothing sent: nothing spent.
                    Err(Failure::Connection { sent: false, .. }) => reservation.unsent(),
                    _ => reservation.settle(&Charge::request()),
                }
            }
            count("requests", 1.0);
            let (error, answer) = match outcome {
                Ok((status, headers, body)) if status < 400 => {
                    count("requests_ok", 1.0);
                    return Ok(Response {
                        status,
                        headers,
                        body,
                        attempts: attempt,
                    });
                }
                Ok((status, headers, body)) => {
                    let retryable = retry::transient(status) && request.idempotent;
                    let error = HttpError::Status {
                        method: method.clone(),
                        url: url.clone(),
                        status,
                        body: excerpt(&body, &secrets),
                        attempts: attempt,
                    }
                    .scrubbed(&secrets);
                    if !retryable {
                        return Err(error);
                    }
                    (error, Some(headers))
                }
                Err(Failure::Connection { reason, sent }) => {
                    let error = HttpError::Connection {
                        method: method.clone(),
                        url: url.clone(),
                        reason,
                        attempts: attempt,
                    }
                    .scrubbed(&secrets);
                    // Not sent, it is safe to send again whatever the method; sent, the server
                    // may have acted on it, so only an idempotent request goes again.
                    if sent && !request.idempotent {
                        return Err(error);
                    }
                    (error, None)
                }
                Err(Failure::Final(error)) => return Err(error.scrubbed(&secrets)),
            };
            if attempt >= self.retry.attempts() {
                return Err(error);
            }
            let wait = match self.retry.wait(attempt, answer.as_ref()) {
                Wait::After(wait) => wait,
                Wait::TooLong { asked, limit } => {
                    return Err(too_long(error, asked, limit).scrubbed(&secrets));
                }
            };
            if !self.budget.withdraw() {
                return Err(error);
            }
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, %error, "http retry");
            count("retries", 1.0);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt: the status, headers and body, or why there is none.
    async fn attempt(
        &self,
        request: &Request,
        url: &reqwest::Url,
        method: &str,
        shown_url: &str,
        secrets: &Redactor,
    ) -> Result<(u16, HeaderMap, Bytes), Failure> {
        let mut builder = self
            .client
            .request(request.method.clone(), url.clone())
            .headers(request.headers.clone())
            .timeout(self.timeout);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let mut answer = builder
            .send()
            .await
            .map_err(|err| self.failure(method, shown_url, secrets, err))?;
        let status = answer.status().as_u16();
        let too_large = || {
            Failure::Final(HttpError::TooLarge {
                method: method.to_owned(),
                url: shown_url.to_owned(),
                limit: self.max_body,
            })
        };
        if answer
            .content_length()
            .is_some_and(|length| length > self.max_body as u64)
        {
            return Err(too_large());
        }
        let headers = answer.headers().clone();
        let mut body = BytesMut::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|err| self.failure(method, shown_url, secrets, err))?
        {
            if body.len() + chunk.len() > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body.freeze()))
    }

    /// What a reqwest error means for the call.
    fn failure(&self, method: &str, url: &str, secrets: &Redactor, err: reqwest::Error) -> Failure {
        let (method, url) = (method.to_owned(), url.to_owned());
        if err.is_timeout() {
            return Failure::Final(HttpError::Timeout {
                method,
                url,
                after: self.timeout,
            });
        }
        if err.is_redirect()
            && let Some(blocked) = source_of::<Blocked>(&err)
        {
            return Failure::Final(HttpError::RedirectNotAllowed {
                method,
                url,
                host: blocked.host.clone(),
                port: blocked.port,
            });
        }
        // reqwest's message, without the URL it appends (it may hold a query).
        let reason = secrets.scrub(&reason(&err)).into_owned();
        Failure::Connection {
            reason,
            sent: !err.is_connect(),
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

enum Failure {
    /// The connection could not be made (`sent: false`), or broke once the request was on
    /// its way (`sent: true`: reset, cut off mid-answer).
    Connection {
        reason: String,
        sent: bool,
    },
    Final(HttpError),
}

/// A redirect the allowlist refused.
#[derive(Debug, thiserror::Error)]
#[error("redirect to `{host}` is not allowed")]
struct Blocked {
    host: String,
    port: Option<u16>,
}

/// `error`, the answer of a server that asked to be retried after more than `limit`.
fn too_long(error: HttpError, asked: String, limit: Duration) -> HttpError {
    match error {
        HttpError::Status {
            method,
            url,
            status,
            body,
            attempts,
        } => HttpError::RetryAfterTooLong {
            method,
            url,
            status,
            asked,
            limit,
            body,
            attempts,
        },
        // Only an answer carries a `Retry-After`.
        other => other,
    }
}

fn source_of<E: std::error::Error + 'static>(err: &reqwest::Error) -> Option<&E> {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(found) = cause.downcast_ref::<E>() {
            return Some(found);
        }
        source = cause.source();
    }
    None
}

/// The innermost cause of a reqwest error, which names what failed (`Connection refused`).
fn reason(err: &reqwest::Error) -> String {
    let mut innermost: &dyn std::error::Error = err;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    innermost.to_string()
}

/// The start of a body, for an error message, with the request's secrets scrubbed.
fn excerpt(body: &[u8], secrets: &Redactor) -> String {
    let (text, cut) = secrets.excerpt(body, 200);
    // The error is scrubbed once more when built, after the whitespace is joined.
    let mut shown = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cut {
        shown.push('…');
    }
    shown
}

impl HttpBuilder {
    /// The per-request timeout (each attempt's own).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How calls are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The budget the retries of every call draw on (share one across tools with a clone).
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The largest body read; a larger answer is [`HttpError::TooLarge`].
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Only these hosts and ports may be called, or redirected to (see [`Allowlist`]): an
    /// entry without a port admits the scheme's default port only; `host:*` every port.
    pub fn allow<S: AsRef<str>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.allow = Some(Allowlist::new(hosts));
        self
    }

    /// At most `redirects` redirects per call (0: none followed).
    pub fn redirects(mut self, redirects: usize) -> Self {
        self.redirects = redirects;
        self
    }

    /// The client.
    pub fn build(self) -> Http {
        let allow = self.allow.clone();
        let limit = self.redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > limit {
                return attempt.stop();
            }
            match &allow {
                Some(allow) if !allow.admits_url(attempt.url()) => {
                    let host = attempt.url().host_str().unwrap_or_default().to_owned();
                    let port = attempt.url().port_or_known_default();
                    attempt.error(Blocked { host, port })
                }
                _ => attempt.follow(),
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .build()
            // Only a TLS backend failing to load makes this fail (reqwest's own `Client::new`
            // assumes it does not); without the `tls` feature there is none.
            .unwrap_or_default();
        Http {
            client,
            timeout: self.timeout,
            retry: self.retry,
            budget: self.budget,
            max_body: self.max_body,
            allow: self.allow,
        }
    }
}

impl Describe for Http {}

impl<C: Sync> Plan<Request, C> for Http {
    type Out = Response;

    async fn call(&self, request: Request, cx: Cx<'_, C>) -> Result<Response, PlanError> {
        let monitor = cx.monitor().copied();
        self.send_counted(request, cx.extension::<Budget>(), monitor)
            .await
            .map_err(|err| PlanError::step(NodeRef::current(&cx), err))
    }
}
