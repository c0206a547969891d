//! The HTTP side of a connection: who may open one (the token, the `Origin`), and the
//! WebSocket handshake's answer. Every refusal is an HTTP status before any upgrade.

use axum::http::header::{
    AUTHORIZATION, CONNECTION, HOST, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION, UPGRADE, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::token::Token;

/// Refuses a request without the token (401) or from a web page of another origin (403).
///
/// The origin is judged first, so that a page elsewhere learns nothing about a token it tries.
/// Nothing here logs or echoes what the client sent.
pub(super) fn admit(
    token: &Token,
    origins: &[String],
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), Refusal> {
    if let Some(origin) = headers.get(ORIGIN)
        && !allowed(origin, headers.get(HOST), origins)
    {
        let why = "this origin may not use the control API: a web page is allowed only from \
                   the server's own origin or one given to `Control::allow_origin`";
        return Err(Refusal::new(StatusCode::FORBIDDEN, why));
    }
    let shown = bearer(headers).or_else(|| query_token(uri));
    let why = match shown {
        Some(shown) if token.admits(shown) => return Ok(()),
        Some(_) => "the token is not this server's",
        None => "the control API needs a token: `Authorization: Bearer TOKEN` or `?token=TOKEN`",
    };
    Err(Refusal::new(StatusCode::UNAUTHORIZED, why).with(WWW_AUTHENTICATE, "Bearer"))
}

/// Whether `origin` is the server's own (`http://` or `https://` and the `Host` the request
/// was sent to) or one of `origins`. Origins are compared ignoring ASCII case, as browsers may
/// spell hosts either way; `null` (a sandboxed page, a file) is never allowed.
fn allowed(origin: &HeaderValue, host: Option<&HeaderValue>, origins: &[String]) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let own = host
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| {
            ["http://", "https://"].iter().any(|scheme| {
                let (start, rest) = (origin.get(..scheme.len()), origin.get(scheme.len()..));
                start.is_some_and(|start| start.eq_ignore_ascii_case(scheme))
                    && rest.is_some_and(|rest| rest.eq_ignore_ascii_case(host))
            })
        });
    own || origins
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(origin))
}

/// The token of `Authorization: Bearer TOKEN` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches(' '))
}

/// The first `token=` of the query. A token has only URL-safe characters, so it is compared
/// as it is sent, unescaped.
fn query_token(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// The `Sec-WebSocket-Accept` for a WebSocket handshake, or why the request is not one.
pub(super) fn accept_key(headers: &HeaderMap) -> Result<HeaderValue, Refusal> {
    let has = |name, word: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(word))
            })
        })
    };
    if !has(CONNECTION, "upgrade") || !has(UPGRADE, "websocket") {
        let why =
            "the control API speaks WebSocket: send `Connection: Upgrade` and `Upgrade: websocket`";
        return Err(Refusal::new(StatusCode::UPGRADE_REQUIRED, why).with(UPGRADE, "websocket"));
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let why = "the control API speaks WebSocket version 13 (`Sec-WebSocket-Version: 13`)";
        return Err(Refusal::new(StatusCode::BAD_REQUEST, why).with(SEC_WEBSOCKET_VERSION, "13"));
    }
    let Some(key) = headers.get(SEC_WEBSOCKET_KEY) else {
        let why = "a WebSocket handshake has a `Sec-WebSocket-Key`";
        return Err(Refusal::new(StatusCode::BAD_REQUEST, why));
    };
    // Base64 is always a valid header value.
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|_| {
        let why = "the `Sec-WebSocket-Key` cannot be answered";
        Refusal::new(StatusCode::BAD_REQUEST, why)
    })
}

/// The answer that switches the connection to the WebSocket protocol.
pub(super) fn switching(accept: HeaderValue) -> Response {
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (CONNECTION, HeaderValue::from_static("upgrade")),
            (UPGRADE, HeaderValue::from_static("websocket")),
            (SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

/// A handshake refused: its HTTP status, why (the body, as text), and a header that tells
/// the client what to send instead.
pub(super) struct Refusal {
    status: StatusCode,
    why: String,
    header: Option<(HeaderName, &'static str)>,
}

impl Refusal {
    pub fn new(status: StatusCode, why: impl Into<String>) -> Self {
        Refusal {
            status,
            why: why.into(),
            header: None,
        }
    }

    fn with(mut self, name: HeaderName, value: &'static str) -> Self {
        self.header = Some((name, value));
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.why).into_response();
        if let Some((name, value)) = self.header {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}
