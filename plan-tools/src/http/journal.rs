//! [`Request`] and [`Response`] as serde values, so that a durable run can journal an HTTP
//! step's input and output and a bus can carry them — without ever writing a secret down.
//!
//! A journal or a bus message is kept at rest and read by others, where the redactor's
//! scrubbing does not reach; so what is secret is never serialized:
//!
//! * a [`Request`] that carries a secret (see the [type's docs](Request) for what is) does not
//!   serialize at all: the error names what is secret. Leaving the secret out instead would
//!   give back a request that is sent without its credentials, and fails far from the cause.
//! * a [`Response`] serializes without the headers that set or carry credentials
//!   (`Set-Cookie`, and the request headers the redactor treats as credentials): a server's
//!   answer is not the caller's to change, and those headers are not what a step reads.
//!
//! A body is written as text when it is UTF-8, else as an array of bytes.

use std::fmt::Write as _;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, SET_COOKIE};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Request, Response};
use crate::redact::{sensitive_header, sensitive_query};

/// A body as it is written: text when it is UTF-8 (the usual case, and readable in a
/// journal), bytes otherwise.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

impl From<&Bytes> for Body {
    fn from(bytes: &Bytes) -> Self {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(err) => Body::Bytes(err.into_bytes()),
        }
    }
}

impl From<Body> for Bytes {
    fn from(body: Body) -> Self {
        match body {
            Body::Text(text) => Bytes::from(text),
            Body::Bytes(bytes) => Bytes::from(bytes),
        }
    }
}

/// A request as it is written.
#[derive(Serialize, Deserialize)]
struct RequestForm {
    method: String,
    url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<Body>,
    idempotent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    invalid: Option<String>,
}

/// A response as it is written.
#[derive(Serialize, Deserialize)]
struct ResponseForm {
    status: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(String, String)>,
    body: Body,
    attempts: u32,
}

impl Request {
    /// What this request carries as secret, named (never quoted): empty when nothing is.
    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .headers
            .keys()
            .filter(|name| sensitive_header(name) || self.secret_headers.contains(name))
            .map(|name| format!("the header `{name}`"))
            .collect();
        secrets.dedup();
        match reqwest::Url::parse(&self.url) {
            Ok(url) => {
                if !url.username().is_empty() || url.password().is_some() {
                    secrets.push("the URL's user name and password".to_owned());
                }
                secrets.extend(
                    url.query_pairs()
                        .filter(|(name, _)| sensitive_query(name))
                        .map(|(name, _)| format!("the query parameter `{name}`")),
                );
            }
            // What would be secret in it cannot be told: it is not written down either (and
            // the request could not be sent anyway).
            Err(_) => secrets.push("a URL that does not parse".to_owned()),
        }
        secrets.extend(
            self.secret_query
                .iter()
                .map(|(name, _)| format!("the secret query parameter `{name}`")),
        );
        secrets
    }
}

/// Writes the request as it is — method, URL, headers, body (text when it is UTF-8, else
/// bytes), whether it is idempotent — unless it carries a secret (see [`Request`] for what
/// is): then it is refused, the error naming what is secret, never its value. Leaving the
/// secret out instead would give back a request sent without its credentials, failing far
/// from the cause; a step that builds and sends the request itself journals only the answer.
///
/// ```
/// use plan_tools::http::Request;
///
/// let request = Request::post("http://127.0.0.1:8080/v1/jobs").json(&serde_json::json!({ "job": 1 }));
/// let written = serde_json::to_string(&request).unwrap();
/// let read: Request = serde_json::from_str(&written).unwrap();
/// assert_eq!(format!("{read:?}"), format!("{request:?}"));
///
/// let secret = Request::get("http://127.0.0.1:8080/v1").header("authorization", "Bearer k3y");
/// let refused = serde_json::to_string(&secret).unwrap_err().to_string();
/// assert!(refused.contains("the header `authorization`") && !refused.contains("k3y"));
/// ```
impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let secrets = self.secrets();
        if !secrets.is_empty() {
            let mut message = format!(
                "an HTTP request to {} is not serialized: it carries secrets ({}), which a \
                 journal or a bus message would keep in clear; build the request in the step \
                 that sends it (with `Http::send`), so that only the response is written down",
                crate::redact::shown(&self.url),
                secrets.join(", ")
            );
            if let Some(reason) = &self.invalid {
                let _ = write!(message, " (the request is also invalid: {reason})");
            }
            return Err(S::Error::custom(message));
        }
        RequestForm {
            method: self.method.to_string(),
            url: self.url.clone(),
            headers: written(&self.headers, |_| true),
            body: self.body.as_ref().map(Body::from),
            idempotent: self.idempotent,
            invalid: self.invalid.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = RequestForm::deserialize(deserializer)?;
        let method = Method::from_bytes(form.method.as_bytes()).map_err(|_| {
            let shown = crate::cut::cut(&form.method.escape_debug().to_string(), 64);
            D::Error::custom(format!("`{shown}` is not an HTTP method"))
        })?;
        let mut request = Request::new(method, form.url);
        request.headers = read(form.headers).map_err(D::Error::custom)?;
        request.body = form.body.map(Bytes::from);
        request.idempotent = form.idempotent;
        request.invalid = form.invalid;
        Ok(request)
    }
}

/// Writes the response — status, headers, body (text when it is UTF-8, else bytes), attempts
/// — without the headers that set or carry credentials (`Set-Cookie`, and those a request's
/// are secret by: `Authorization`, `Cookie`, `X-Api-Key`, ..): a server's answer is not the
/// caller's to change, and those are not what a step reads.
///
/// ```
/// use plan_tools::http::Response;
///
/// let answer = r#"{"status":200,"headers":[["content-type","text/plain"]],"body":"hi","attempts":1}"#;
/// let response: Response = serde_json::from_str(answer).unwrap();
/// assert_eq!((response.status, response.text()), (200, "hi".to_owned()));
/// assert_eq!(serde_json::to_string(&response).unwrap(), answer);
/// ```
impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ResponseForm {
            status: self.status,
            headers: written(&self.headers, |name| {
                !(sensitive_header(name) || name == SET_COOKIE)
            }),
            body: Body::from(&self.body),
            attempts: self.attempts,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = ResponseForm::deserialize(deserializer)?;
        Ok(Response {
            status: form.status,
            headers: read(form.headers).map_err(D::Error::custom)?,
            body: form.body.into(),
            attempts: form.attempts,
        })
    }
}

/// The headers `keep` admits, as name and value pairs, in order.
fn written(headers: &HeaderMap, keep: impl Fn(&HeaderName) -> bool) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, value)| {
            // A value is visible ASCII, or bytes a server chose: kept as they are when UTF-8.
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// Headers from name and value pairs, each value kept out of debug output as
/// [`Request::header`] does.
fn read(pairs: Vec<(String, String)>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        // The journal may be anyone's bytes: a name is cut short for the message.
        let shown = crate::cut::cut(&name.escape_debug().to_string(), 64);
        let name = HeaderName::try_from(name)
            .map_err(|_| format!("`{shown}` is not a valid header name"))?;
        let mut value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
            format!("the value of the header `{shown}` is not a valid header value")
        })?;
        value.set_sensitive(true);
        headers.append(name, value);
    }
    Ok(headers)
}
