//! `LlmError`: why a model call failed.

use crate::llm::ApiKey;

/// Why a model call failed. No variant holds the API key: a server's error body is cut to an
/// excerpt with any occurrence of the key replaced by `[redacted]`, and transport errors
/// name the URL, which never carries the key (it goes in the `Authorization` header).
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
    pub(crate) fn transport(err: reqwest::Error) -> Self {
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

    /// A parse failure of `text`.
    pub(crate) fn json(source: serde_json::Error, text: &[u8], key: Option<&ApiKey>) -> Self {
        LlmError::Json {
            source,
            excerpt: excerpt(text, key),
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

/// The start of `body` as text, with the key (should a server echo it) replaced.
pub(crate) fn excerpt(body: &[u8], key: Option<&ApiKey>) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    // Redacted before cutting, so that a key straddling the cut cannot leave its start behind.
    if let Some(key) = key.filter(|k| !k.expose().is_empty()) {
        text = text.replace(key.expose(), "[redacted]");
    }
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_redacted_then_cut() {
        let key = ApiKey::new("sk-abc");
        // The key straddles the cut: redacting first leaves none of it.
        let body = format!("{}sk-abc and more", "x".repeat(EXCERPT_CHARS - 3));
        let cut = excerpt(body.as_bytes(), Some(&key));
        assert!(!cut.contains("sk-") && cut.ends_with('…'), "{cut}");
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt(b"bad key sk-abc", Some(&key)), "bad key [redacted]");
        assert_eq!(excerpt("é\u{ff}".as_bytes(), None), "é\u{ff}");
    }
}
