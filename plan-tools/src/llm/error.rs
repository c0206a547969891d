//! `LlmError`: why a model call failed.

use std::borrow::Cow;

use crate::redact::Redactor;

/// Why a model call failed. No variant holds a secret the client sent — the API key, the
/// base URL's user name and password, a key in its query: a server's error body is cut to
/// an excerpt with each of them, in every form a server may echo it in, replaced by
/// `[redacted]` (see [`redact`](crate::redact)), and transport errors name the URL without its
/// credentials and query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The server answered with an error status.
    #[error("the server answered {status}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most [`EXCERPT_CHARS`] characters).
        body: String,
    },
    /// The server reported an error inside a successful response (an `error` object in a
    /// stream chunk, as vLLM and LiteLLM send when generation fails midway).
    #[error("the server reported an error: {message}")]
    Api {
        /// The error object, as JSON text (cut to an excerpt).
        message: String,
    },
    /// The server could not be reached.
    #[error("could not connect to the model server")]
    Connect(#[source] reqwest::Error),
    /// The request or the response took longer than the client's timeout.
    #[error("the model call timed out")]
    Timeout(#[source] reqwest::Error),
    /// The connection broke while the response was being read.
    #[error("the connection broke while reading the response")]
    Body(#[source] reqwest::Error),
    /// Sending the request failed otherwise (a bad URL, a redirect loop, ..).
    #[error("the request could not be sent")]
    Request(#[source] reqwest::Error),
    /// The response was not the JSON the protocol prescribes.
    #[error("the server sent malformed JSON: {excerpt}")]
    Json {
        /// What the parser said.
        #[source]
        source: serde_json::Error,
        /// The start of the text that did not parse.
        excerpt: String,
    },
    /// The answer is larger than the client's cap ([`OpenAi::max_body`](super::OpenAi::max_body)):
    /// it was not read on.
    #[error(
        "the server's answer is larger than the {limit}-byte cap (raise it with OpenAi::max_body)"
    )]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The response stream could not be read on: an event past the decoder's cap.
    #[error("the response stream broke off: {0}")]
    Stream(#[from] crate::sse::SseError),
    /// The environment variable named for the API key is not set.
    #[error("the API key's environment variable `{var}` is not set")]
    MissingKey {
        /// The variable.
        var: String,
    },
    /// Another provider's or a fake's own error.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// How much of a response body an error keeps.
pub const EXCERPT_CHARS: usize = 512;

impl LlmError {
    /// Sorts a transport error by what went wrong.
    pub(crate) fn transport(mut err: reqwest::Error) -> Self {
        // reqwest keeps the URL without its credentials (they became a header); its query
        // may hold a key.
        if let Some(url) = err.url_mut() {
            url.set_query(None);
        }
        if err.is_timeout() {
            LlmError::Timeout(err)
        } else if err.is_connect() {
            LlmError::Connect(err)
        } else if err.is_body() || err.is_decode() {
            LlmError::Body(err)
        } else {
            LlmError::Request(err)
        }
    }

    /// A parse failure of `text`. The parser's message quotes a string of the wrong type
    /// (`invalid type: string "…"`), which may be a secret the server echoed: such a message
    /// is replaced by its scrubbed text.
    pub(crate) fn json(source: serde_json::Error, text: &[u8], secrets: &Redactor) -> Self {
        let said = source.to_string();
        let source = match secrets.scrub(&said) {
            Cow::Borrowed(_) => source,
            Cow::Owned(scrubbed) => serde::de::Error::custom(scrubbed),
        };
        LlmError::Json {
            source,
            excerpt: excerpt(text, secrets),
        }
    }

    /// The HTTP status, for [`LlmError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The start of `body` as text, with the secrets (should a server echo them) replaced.
pub(crate) fn excerpt(body: &[u8], secrets: &Redactor) -> String {
    match secrets.excerpt(body, EXCERPT_CHARS) {
        (text, true) => format!("{text}…"),
        (text, false) => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_cut_and_redacted() {
        let key = Redactor::new().secret("sk-abc");
        // The key straddles the cut: none of it is left.
        let body = format!("{}sk-abc and more", "x".repeat(EXCERPT_CHARS - 3));
        let cut = excerpt(body.as_bytes(), &key);
        assert_eq!(cut, format!("{}[redacted]…", "x".repeat(EXCERPT_CHARS - 3)));
        let long = "y".repeat(EXCERPT_CHARS * 8);
        assert_eq!(
            excerpt(long.as_bytes(), &key).chars().count(),
            EXCERPT_CHARS + 1
        );
        assert_eq!(excerpt(b"bad key sk-abc", &key), "bad key [redacted]");
        assert_eq!(excerpt("é\u{ff}".as_bytes(), &Redactor::new()), "é\u{ff}");
    }
}
