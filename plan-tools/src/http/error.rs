//! How an HTTP call fails.

use std::time::Duration;

use crate::redact::Redactor;

/// Why an HTTP call failed. Nothing here holds a request's headers, URLs are shown without
/// their query and credentials, and every text a server sent (a body's excerpt) has the
/// request's secrets scrubbed (see [`Request`](super::Request)), so a credential the call sent
/// never appears in an error, even one a server echoed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The host and port are not on the tool's allowlist; no connection was made.
    #[error(
        "`{}` is not on the allowlist (an entry without a port admits the scheme's default port only; `host:*` admits every port)",
        at(.host, *.port)
    )]
    NotAllowed {
        /// The host that was refused.
        host: String,
        /// The port the connection would have used.
        port: Option<u16>,
    },
    /// The request could not be built: a URL that does not parse or has no host, an invalid
    /// header, a body that is not JSON.
    #[error("invalid request: {reason}")]
    Invalid {
        /// What is wrong with it.
        reason: String,
    },
    /// The server answered with an error status, after `attempts` attempts.
    #[error("{method} {url} answered {status} after {attempts} attempt(s){}", excerpt(.body))]
    Status {
        /// The request's method.
        method: String,
        /// The request's URL.
        url: String,
        /// The status of the last answer.
        status: u16,
        /// The start of the last answer's body.
        body: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The server answered with a transient error status and asked, in `Retry-After`, to be
    /// retried later than the retry policy's cap
    /// ([`RetryPolicy::max_retry_after`](super::RetryPolicy::max_retry_after)): the call is not
    /// retried.
    #[error(
        "{method} {url} answered {status} and asked to be retried after `Retry-After: {asked}`, longer than the {limit:?} cap (RetryPolicy::max_retry_after); not retried after {attempts} attempt(s){}",
        excerpt(.body)
    )]
    RetryAfterTooLong {
        /// The request's method.
        method: String,
        /// The request's URL.
        url: String,
        /// The status of the last answer.
        status: u16,
        /// The `Retry-After` value as the server wrote it (cut to 64 characters, the
        /// request's secrets scrubbed).
        asked: String,
        /// The longest wait the policy allows.
        limit: Duration,
        /// The start of the last answer's body.
        body: String,
        /// Attempts made.
        attempts: u32,
    },
    /// No answer within the per-request timeout.
    #[error("{method} {url} timed out after {after:?}")]
    Timeout {
        /// The request's method.
        method: String,
        /// The request's URL.
        url: String,
        /// The per-request timeout.
        after: Duration,
    },
    /// The connection failed (after `attempts` attempts) or broke.
    #[error("{method} {url}: {reason} (after {attempts} attempt(s))")]
    Connection {
        /// The request's method.
        method: String,
        /// The request's URL.
        url: String,
        /// What went wrong.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The answer's body is larger than the tool's cap.
    #[error("{method} {url}: the answer is larger than the {limit}-byte cap")]
    TooLarge {
        /// The request's method.
        method: String,
        /// The request's URL.
        url: String,
        /// The cap.
        limit: usize,
    },
    /// The run's budget would be exceeded by this request; it was not sent. The budget's
    /// refusal is this error's source (`PlanError::caused_by::<BudgetExceeded>()` finds it).
    #[error("the request was not sent: the run's budget would be exceeded")]
    OverBudget(#[from] crate::budget::BudgetExceeded),
    /// A redirect led to a host and port that are not on the allowlist.
    #[error(
        "{method} {url}: redirected to `{}`, which is not on the allowlist",
        at(.host, *.port)
    )]
    RedirectNotAllowed {
        /// The request's method.
        method: String,
        /// The request's URL.
        url: String,
        /// The host the redirect led to.
        host: String,
        /// The port the redirect's connection would have used.
        port: Option<u16>,
    },
}

impl HttpError {
    /// The same error with every secret of `secrets` scrubbed from its texts.
    pub(super) fn scrubbed(mut self, secrets: &Redactor) -> Self {
        if secrets.is_empty() {
            return self;
        }
        let texts: Vec<&mut String> = match &mut self {
            HttpError::NotAllowed { host, .. } => vec![host],
            HttpError::Invalid { reason } => vec![reason],
            HttpError::Status {
                method, url, body, ..
            } => vec![method, url, body],
            // `asked` too: the server wrote it, and may have echoed a secret of digits there.
            HttpError::RetryAfterTooLong {
                method,
                url,
                asked,
                body,
                ..
            } => vec![method, url, asked, body],
            HttpError::Timeout { method, url, .. } | HttpError::TooLarge { method, url, .. } => {
                vec![method, url]
            }
            HttpError::Connection {
                method,
                url,
                reason,
                ..
            } => vec![method, url, reason],
            HttpError::RedirectNotAllowed {
                method, url, host, ..
            } => vec![method, url, host],
            HttpError::OverBudget(_) => Vec::new(),
        };
        for text in texts {
            secrets.scrub_in_place(text);
        }
        self
    }
}

/// `host:port`, or the host alone without a port.
fn at(host: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn excerpt(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}
