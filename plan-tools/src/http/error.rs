//! How an HTTP call fails.

use std::time::Duration;

/// Why an HTTP call failed. Nothing here holds a request's headers, so a credential sent in
/// one never appears in an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The host is not on the tool's allowlist; no connection was made.
    #[error("`{host}` is not on the allowlist")]
    NotAllowed {
        /// The host that was refused.
        host: String,
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
    /// The run's budget would be exceeded by this request; it was not sent.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::BudgetExceeded),
    /// A redirect led to a host that is not on the allowlist.
    #[error("{method} {url}: redirected to `{host}`, which is not on the allowlist")]
    RedirectNotAllowed {
        /// The request's method.
        method: String,
        /// The request's URL.
        url: String,
        /// Where the redirect led.
        host: String,
    },
}

fn excerpt(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}
