//! What an HTTP step takes and gives.

use std::fmt;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::redact::{Redactor, shown};

/// A request for [`Http`](super::Http): method, URL, headers, body, and whether it may be
/// retried after the server saw it.
///
/// `GET`, `HEAD`, `PUT`, `DELETE`, `OPTIONS` and `TRACE` are idempotent, so retried on a
/// transient answer and on a connection that broke once the request was sent (reset, cut off
/// mid-answer); `POST` and `PATCH` are not, unless marked with [`Request::idempotent`]. A
/// request that never reached the server (a refused connection) is retried whatever its
/// method.
///
/// `Debug` shows the method and the URL without its query, and header names only: a token in
/// a header or a key in a query string is not printed.
///
/// What is secret is also kept out of what the tool shows — its errors, and through them a
/// `PlanError`, a run report and log events — even when a server echoes it back (see
/// [`redact`](crate::redact) for the forms scrubbed): the values of the headers
/// `Authorization`, `Proxy-Authorization`, `Cookie`, `X-Api-Key`, `Api-Key`, `X-Auth-Token`
/// and `X-Access-Token`, and of any header added with [`Request::secret_header`]; the URL's
/// user name and password; the values of query parameters added with
/// [`Request::secret_query`], and of those in the URL named `api_key`, `apikey`, `api-key`,
/// `key`, `token`, `access_token`, `refresh_token`, `auth`, `password`, `secret`,
/// `client_secret`, `signature`, or, as presigned URLs name them, `sig`, `X-Amz-Signature`,
/// `X-Amz-Security-Token` or `X-Goog-Signature` (names compared without case).
///
/// It is serde, for a durable run's journal and a bus, as long as it carries no secret:
/// one that does is refused rather than written down in clear (see
/// [`Serialize for Request`](#impl-Serialize-for-Request)).
///
/// ```
/// use plan_tools::http::Request;
///
/// let req = Request::post("http://127.0.0.1:8080/v1/jobs?key=secret")
///     .header("authorization", "Bearer secret")
///     .json(&serde_json::json!({ "job": 1 }))
///     .idempotent();
/// let shown = format!("{req:?}");
/// assert!(shown.contains("POST http://127.0.0.1:8080/v1/jobs"));
/// assert!(!shown.contains("secret"));
/// ```
#[derive(Clone)]
pub struct Request {
    pub(super) method: Method,
    pub(super) url: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Option<Bytes>,
    pub(super) idempotent: bool,
    /// A header or body that could not be built: reported when the request is sent.
    pub(super) invalid: Option<String>,
    /// Headers added with [`Request::secret_header`].
    pub(super) secret_headers: Vec<HeaderName>,
    /// Query parameters added with [`Request::secret_query`], appended when it is sent.
    pub(super) secret_query: Vec<(String, String)>,
}

impl Request {
    /// A request with `method` for `url`.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        let idempotent = matches!(
            method,
            Method::GET
                | Method::HEAD
                | Method::PUT
                | Method::DELETE
                | Method::OPTIONS
                | Method::TRACE
        );
        Request {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
            idempotent,
            invalid: None,
            secret_headers: Vec::new(),
            secret_query: Vec::new(),
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new(Method::GET, url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Request::new(Method::POST, url)
    }

    /// Adds a header. An invalid name or value makes the call fail with
    /// [`HttpError::Invalid`](super::HttpError::Invalid) when it is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(mut value)) => {
                // Kept out of any debug output of the header map.
                value.set_sensitive(true);
                self.headers.append(name, value);
            }
            _ => self.invalid = Some(format!("invalid header `{name}`")),
        }
        self
    }

    /// Adds a header whose value is secret: sent, and scrubbed from all the tool shows (the
    /// headers named in the [type's docs](Request) are secret without this).
    ///
    /// ```
    /// use plan_tools::http::Request;
    ///
    /// let req = Request::get("http://127.0.0.1:8080/v1").secret_header("x-signature", "s1g");
    /// assert!(!format!("{req:?}").contains("s1g"));
    /// ```
    pub fn secret_header(mut self, name: &str, value: &str) -> Self {
        self = self.header(name, value);
        if let Ok(name) = HeaderName::try_from(name) {
            self.secret_headers.push(name);
        }
        self
    }

    /// Appends the query parameter `name=value` to the URL, its value secret: sent, and
    /// scrubbed from all the tool shows. The URL's own query parameters with well-known names
    /// (see the [type's docs](Request)) are secret without this.
    ///
    /// ```
    /// use plan_tools::http::Request;
    ///
    /// let req = Request::get("http://127.0.0.1:8080/v1?q=x").secret_query("sig", "s1g");
    /// assert_eq!(format!("{req:?}"), "Request(GET http://127.0.0.1:8080/v1)");
    /// ```
    pub fn secret_query(mut self, name: &str, value: &str) -> Self {
        self.secret_query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The URL to send, with the secret query parameters appended, and the secrets it and the
    /// headers carry.
    pub(super) fn resolve(
        &self,
        mut url: reqwest::Url,
        client: &reqwest::Client,
    ) -> (reqwest::Url, Redactor) {
        let mut secrets = Redactor::new();
        if !self.secret_query.is_empty() {
            let mut query = url.query_pairs_mut();
            for (name, value) in &self.secret_query {
                query.append_pair(name, value);
            }
        }
        for (_, value) in &self.secret_query {
            secrets.add(value);
        }
        secrets.add_url(&url, |name| {
            self.secret_query.iter().any(|(secret, _)| secret == name)
        });
        secrets.add_headers(&self.headers, |name| self.secret_headers.contains(name));
        secrets.add_url_authorization(client, &url);
        (url, secrets)
    }

    /// The body, as bytes.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The body, as JSON (and a `content-type: application/json` header).
    pub fn json(mut self, value: &impl serde::Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.headers.insert(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                self.body = Some(body.into());
            }
            Err(err) => self.invalid = Some(format!("the JSON body: {err}")),
        }
        self
    }

    /// Marks the request as safe to send twice (an idempotency key, a `POST` that only
    /// reads), so that a transient answer is retried.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        write!(f, "Request({} {}", self.method, shown(&self.url))?;
        if !names.is_empty() {
            write!(f, ", headers {names:?}")?;
        }
        if let Some(body) = &self.body {
            write!(f, ", {} body bytes", body.len())?;
        }
        f.write_str(")")
    }
}

/// What a server answered: the status, headers and the whole body (up to the tool's cap).
///
/// It is serde, so that a durable run journals an HTTP step's answer and a resumed run does
/// not call the server again; the headers that set or carry credentials (`Set-Cookie`,
/// `Authorization`, ..) are left out of what it writes.
#[derive(Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// How many attempts it took (1 without a retry).
    pub attempts: u32,
}

impl Response {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Response({}, {} body bytes, {} attempt(s))",
            self.status,
            self.body.len(),
            self.attempts
        )
    }
}
