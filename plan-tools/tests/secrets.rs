//! Secrets stay secret in every form. An axum server on 127.0.0.1 answers every request with
//! an error status and a body quoting what the request sent — its headers' and its query's
//! values — spelled as a server might: decoded, as sent, JSON-escaped (`/` as `\/`) or
//! percent-encoded (upper- and lower-case hex). Neither the HTTP tool nor the model client
//! lets a secret through: not its error's `Display` or `Debug`, the `PlanError` of a plan
//! running it, the run report (serde, timeline, Chrome trace) or a tracing event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use plan_runtime::prelude::*;
use plan_tools::http::{Http, HttpError, Request, RetryPolicy};
use plan_tools::llm::{ChatRequest, LlmError, OpenAi};

/// How the echo server spells what it quotes.
const SPELLINGS: [&str; 5] = ["decoded", "as-sent", "json", "percent", "percent-lower"];

/// `value` spelled as `spelling` says.
fn spell(value: &str, spelling: &str) -> String {
    let upper = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
    match spelling {
        "json" => {
            let quoted = serde_json::to_string(value).unwrap();
            quoted[1..quoted.len() - 1].replace('/', "\\/")
        }
        "percent" => upper,
        "percent-lower" => {
            // Lower-case hex, a space as `+`, as some form encoders write.
            let mut lower = String::new();
            let mut hex_left = 0;
            for c in upper.replace("%20", "+").chars() {
                hex_left = if c == '%' {
                    2
                } else {
                    hex_left - usize::from(hex_left > 0)
                };
                lower.push(if hex_left > 0 {
                    c.to_ascii_lowercase()
                } else {
                    c
                });
            }
            lower
        }
        _ => value.to_owned(),
    }
}

/// Headers every request carries that are not what a caller sent: left out of the echo so
/// that it fits in an error's excerpt.
const UNQUOTED: [&str; 5] = [
    "host",
    "accept",
    "content-type",
    "content-length",
    "user-agent",
];

/// Answers `status` with the values of the request's headers and query, spelled as asked.
async fn echo(
    Path((spelling, status, _)): Path<(String, u16, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(pairs): Query<Vec<(String, String)>>,
) -> axum::response::Response {
    let mut quoted: Vec<String> = headers
        .iter()
        .filter(|(name, _)| !UNQUOTED.contains(&name.as_str()))
        .map(|(_, value)| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    match spelling.as_str() {
        "as-sent" => quoted.extend(raw),
        _ => quoted.extend(pairs.into_iter().map(|(_, value)| value)),
    }
    let body: Vec<String> = quoted.iter().map(|q| spell(q, &spelling)).collect();
    let mut answer = (StatusCode::from_u16(status).unwrap(), body.join(" ")).into_response();
    answer
        .headers_mut()
        .insert("retry-after", axum::http::HeaderValue::from_static("0"));
    answer
}

/// Starts the echo server: `/{spelling}/{status}/...` answers `status`.
async fn serve() -> String {
    serve_app(Router::new().route("/{spelling}/{status}/{*rest}", any(echo))).await
}

/// Serves `app` on a free port of 127.0.0.1; its address.
async fn serve_app(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr.to_string()
}

/// What the tracing events of the test's thread printed.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Captures every event and span of this thread (a `#[tokio::test]` runs on one) until the
    /// guard is dropped.
    fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Fails if any spelling of any of `secrets` is in `shown`, saying which and where.
fn assert_hidden(secrets: &[&str], what: &str, shown: &str) {
    for secret in secrets {
        for spelling in SPELLINGS {
            let spelled = spell(secret, spelling);
            assert!(
                !shown.contains(&spelled),
                "{what} shows `{secret}` ({spelling}: `{spelled}`): {shown}"
            );
        }
    }
}

/// Everything a run's failure shows: the error, its `Debug` both ways, and the run report as
/// serde JSON, text, timeline and Chrome trace.
fn shown_by_run<T: std::fmt::Debug>(
    out: &Result<T, PlanError>,
    report: &plan_runtime::report::RunReport,
) -> String {
    let err = out.as_ref().unwrap_err();
    [
        err.to_string(),
        format!("{err:?}"),
        format!("{err:#?}"),
        serde_json::to_string(report).unwrap(),
        report.to_string(),
        report.timeline().to_string(),
        serde_json::to_string(&report.chrome_trace()).unwrap(),
    ]
    .join("\n")
}

/// The HTTP tool's secrets, and the query the echo must quote without hiding it.
const HTTP_SECRETS: [&str; 9] = [
    "u/r",
    "p w",
    // `u/r:p w` in base64: the `Authorization: Basic` reqwest makes of the URL's credentials.
    "dS9yOnAgdw==",
    "xk/1 2",
    "pt/3",
    "sg/4",
    "ak/5 é",
    "sq/6+é",
    "au/7",
];

/// The two requests: one with credentials in its URL, one with an `Authorization` header (a
/// request has one or the other: the header replaces what the URL would make).
fn http_requests(addr: &str, spelling: &str, status: u16) -> [Request; 2] {
    let path = format!("{spelling}/{status}/x?api_key=ak%2F5%20%C3%A9&q=visible");
    let others = |request: Request| {
        request
            .header("x-api-key", "xk/1 2")
            .header("proxy-authorization", "Bearer pt/3")
            .secret_header("x-signature", "sg/4")
            .secret_query("sig", "sq/6+é")
    };
    [
        others(Request::get(format!("http://u%2Fr:p%20w@{addr}/{path}"))),
        others(
            Request::get(format!("http://{addr}/{path}")).header("authorization", "Bearer au/7"),
        ),
    ]
}

#[tokio::test]
async fn the_echo_server_quotes_every_secret_in_every_spelling() {
    // Without this, the tests below could pass by the echo's not quoting what they check.
    let addr = serve().await;
    let client = reqwest::Client::new();
    for spelling in SPELLINGS {
        let url = format!(
            "http://u%2Fr:p%20w@{addr}/{spelling}/401/x?api_key=ak%2F5%20%C3%A9&q=visible&sig=sq%2F6%2B%C3%A9"
        );
        let body = client
            .get(url)
            .header("x-api-key", "xk/1 2")
            .header("proxy-authorization", "Bearer pt/3")
            .header("x-signature", "sg/4")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.len() < 200, "longer than an excerpt: {body}");
        let sent = ["dS9yOnAgdw==", "xk/1 2", "pt/3", "sg/4"];
        let decoded = ["ak/5 é", "sq/6+é"];
        let quoted = if spelling == "as-sent" {
            &decoded[..0]
        } else {
            &decoded[..]
        };
        for secret in sent.iter().chain(quoted) {
            assert!(
                body.contains(&spell(secret, spelling)),
                "{spelling}: {secret}: {body}"
            );
        }
        if spelling == "as-sent" {
            assert!(body.contains("ak%2F5%20%C3%A9"), "{body}");
        }
    }
}

#[tokio::test]
async fn the_http_tool_shows_no_secret_a_server_echoes() {
    let addr = serve().await;
    let (captured, _guard) = Captured::start();
    // Two attempts, so that the retry's log event carries the first error.
    let http = Http::builder()
        .retry(RetryPolicy::new(2).backoff(Duration::from_millis(1)))
        .build();
    for spelling in SPELLINGS {
        for (status, request) in [401, 503]
            .into_iter()
            .flat_map(|status| http_requests(&addr, spelling, status).map(|r| (status, r)))
        {
            let err = http.send(request).await.unwrap_err();
            assert!(
                matches!(err, HttpError::Status { status: s, .. } if s == status),
                "{err}"
            );
            // The echo is shown — with the secrets scrubbed.
            assert!(err.to_string().contains("visible"), "{err}");
            assert!(err.to_string().contains("[redacted]"), "{err}");
            assert_hidden(&HTTP_SECRETS, "HttpError", &err.to_string());
            assert_hidden(&HTTP_SECRETS, "HttpError's Debug", &format!("{err:?}"));
        }

        let base = addr.clone();
        let to_request = move |i: usize| {
            let [with_url, with_header] = http_requests(&base, spelling, 401);
            if i == 0 { with_url } else { with_header }
        };
        let call = plan! { to_request >> #[name = "call"] (http.clone()) };
        for i in 0..2 {
            let (out, report) = call.run(i).reported().await;
            assert_hidden(&HTTP_SECRETS, "the run", &shown_by_run(&out, &report));
        }
    }
    let logged = captured.text();
    assert!(logged.contains("http retry"), "{logged}");
    assert_hidden(&HTTP_SECRETS, "the log", &logged);
}

/// The model client's secrets: its key, and the base URL's credentials (`pu/0:pp/9`).
const LLM_SECRETS: [&str; 4] = ["sk/8 k", "pu/0", "pp/9", "cHUvMDpwcC85"];

#[tokio::test]
async fn the_model_client_shows_no_secret_a_server_echoes() {
    use futures::StreamExt;

    let addr = serve().await;
    let (captured, _guard) = Captured::start();
    for spelling in SPELLINGS {
        let client = OpenAi::new(
            format!("http://pu%2F0:pp%2F9@{addr}/{spelling}/401/v1"),
            "m",
        )
        .api_key("sk/8 k");
        assert_hidden(&LLM_SECRETS, "OpenAi's Debug", &format!("{client:?}"));

        let err = client.call(ChatRequest::user("hi")).await.unwrap_err();
        assert!(matches!(err, LlmError::Status { status: 401, .. }), "{err}");
        assert!(err.to_string().contains("[redacted]"), "{err}");
        assert_hidden(&LLM_SECRETS, "LlmError", &err.to_string());
        assert_hidden(&LLM_SECRETS, "LlmError's Debug", &format!("{err:?}"));

        let streamed = Box::pin(client.stream(ChatRequest::user("hi")))
            .next()
            .await
            .unwrap();
        let err = streamed.unwrap_err();
        assert_hidden(
            &LLM_SECRETS,
            "the stream's LlmError",
            &format!("{err} {err:?}"),
        );

        let ask = |topic: String| ChatRequest::user(topic);
        let model = plan! { ask >> #[name = "model"] (client.clone()) };
        let (out, report) = model.run("plans".to_owned()).reported().await;
        assert_hidden(&LLM_SECRETS, "the run", &shown_by_run(&out, &report));
    }
    let logged = captured.text();
    assert!(logged.contains("llm server error"), "{logged}");
    assert_hidden(&LLM_SECRETS, "the log", &logged);
}

/// Answers 503, asking to be retried after the value of the request's `x-api-key`: a server
/// echoing a secret of digits where a wait goes.
async fn retry_after_echo(headers: HeaderMap) -> axum::response::Response {
    let mut answer = StatusCode::SERVICE_UNAVAILABLE.into_response();
    if let Some(key) = headers.get("x-api-key") {
        answer.headers_mut().insert("retry-after", key.clone());
    }
    answer
}

#[tokio::test]
async fn a_secret_echoed_as_a_retry_after_is_not_shown() {
    let addr = serve_app(Router::new().route("/", any(retry_after_echo))).await;
    // All digits, and too large for a `u64`: a wait longer than any cap.
    let secret = "31415926535897932384626";
    let request = Request::get(format!("http://{addr}/")).header("x-api-key", secret);
    let err = Http::new().send(request).await.unwrap_err();
    assert!(matches!(err, HttpError::RetryAfterTooLong { .. }), "{err}");
    assert!(
        err.to_string().contains("Retry-After: [redacted]`"),
        "{err}"
    );
    assert_hidden(&[secret], "HttpError", &format!("{err} {err:?}"));
}

/// Answers a completion whose `choices` is the request's bearer token: JSON of the wrong
/// shape, whose parser's message quotes the key.
async fn key_as_choices(headers: HeaderMap) -> axum::response::Response {
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    axum::Json(serde_json::json!({ "choices": token })).into_response()
}

#[tokio::test]
async fn a_key_echoed_in_json_of_the_wrong_shape_is_not_shown() {
    let addr = serve_app(Router::new().route("/v1/chat/completions", any(key_as_choices))).await;
    let key = "sk-echoed/7";
    let client = OpenAi::new(format!("http://{addr}/v1"), "m").api_key(key);
    let err = client.call(ChatRequest::user("hi")).await.unwrap_err();
    assert!(matches!(err, LlmError::Json { .. }), "{err}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        source.contains("invalid type: string \"[redacted]\""),
        "{source}"
    );
    assert_hidden(&[key], "LlmError", &format!("{err} {err:?} {source}"));
}
