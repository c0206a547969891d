//! The HTTP step against an axum server of our own on 127.0.0.1 that fails on demand and
//! counts the requests it gets: what is retried and what is not, `Retry-After` in both forms,
//! the retry budget, the size cap, timeouts, and the allowlist (redirects included).
//!
//! Real sockets and the real clock: tokio's paused clock would fire the request timeouts
//! while a socket waits. Waits are a few milliseconds, except the `Retry-After` tests, which
//! wait the second the header asks for and check it was honoured (a wait never ends early).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use plan_runtime::prelude::*;
use plan_tools::http::{Http, HttpError, Request, RetryBudget, RetryPolicy};

/// Requests the server got, per path.
#[derive(Clone, Default)]
struct Counts(Arc<Mutex<HashMap<String, u32>>>);

impl Counts {
    /// Counts a request to `path`; returns how many there have been, this one included.
    fn hit(&self, path: &str) -> u32 {
        let mut counts = self.0.lock().unwrap();
        let n = counts.entry(path.to_owned()).or_default();
        *n += 1;
        *n
    }

    fn of(&self, path: &str) -> u32 {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// Starts the server; returns its base URL and its counts.
async fn serve() -> (String, Counts) {
    let counts = Counts::default();
    let app = Router::new()
        .route(
            "/ok",
            get(|State(c): State<Counts>| async move {
                c.hit("/ok");
                "hello"
            }),
        )
        .route(
            "/status/{code}",
            get(
                |State(c): State<Counts>, Path(code): Path<u16>| async move {
                    c.hit(&format!("/status/{code}"));
                    (
                        StatusCode::from_u16(code).unwrap(),
                        format!("status {code} as asked"),
                    )
                },
            )
            .post(
                |State(c): State<Counts>, Path(code): Path<u16>| async move {
                    c.hit(&format!("POST /status/{code}"));
                    StatusCode::from_u16(code).unwrap()
                },
            ),
        )
        .route(
            "/flaky/{key}/{failures}",
            get(
                |State(c): State<Counts>, Path((key, failures)): Path<(String, u32)>| async move {
                    if c.hit(&format!("/flaky/{key}")) <= failures {
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    } else {
                        "recovered".into_response()
                    }
                },
            ),
        )
        .route("/retry-after/{form}", get(retry_after))
        .route("/big", get(|| async { "x".repeat(100_000) }))
        .route(
            "/too-long/{form}",
            get(
                |State(c): State<Counts>, Path(form): Path<String>| async move {
                    c.hit(&format!("/too-long/{form}"));
                    let asked = match form.as_str() {
                        "number" => "99999999999999999999",
                        "date" => "Fri, 31 Dec 9999 23:59:59 GMT",
                        _ => "3600",
                    };
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::RETRY_AFTER, asked)],
                        "busy for a while",
                    )
                },
            ),
        )
        .route(
            "/redirect",
            get(
                |State(c): State<Counts>, Query(q): Query<HashMap<String, String>>| async move {
                    c.hit("/redirect");
                    (StatusCode::FOUND, [(header::LOCATION, q["to"].clone())])
                },
            ),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/echo-auth",
            get(|headers: HeaderMap| async move {
                headers
                    .get(header::AUTHORIZATION)
                    .map_or_else(String::new, |v| v.to_str().unwrap().to_owned())
            }),
        )
        .with_state(counts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), counts)
}

/// Answers 503 with a `Retry-After` of one second — as a number, or as a date — once, then 200.
async fn retry_after(State(c): State<Counts>, Path(form): Path<String>) -> Response {
    if c.hit(&format!("/retry-after/{form}")) > 1 {
        return "after the wait".into_response();
    }
    let value = match form.as_str() {
        "seconds" => "1".to_owned(),
        // A date has a resolution of a second: two seconds ahead is at least one away.
        _ => httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2)),
    };
    let mut answer = StatusCode::SERVICE_UNAVAILABLE.into_response();
    answer
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_str(&value).unwrap());
    answer
}

/// An `Http` retrying `attempts` times without a retry budget.
fn unbudgeted(attempts: u32) -> Http {
    Http::builder()
        .retry(quick(attempts))
        .budget(RetryBudget::unlimited())
        .build()
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts).backoff(Duration::from_millis(1))
}

#[tokio::test]
async fn transient_failures_are_retried_until_they_pass() {
    let (base, counts) = serve().await;
    let http = Http::builder().retry(quick(3)).build();
    let answer = http
        .send(Request::get(format!("{base}/flaky/a/2")))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.text().as_str(), answer.attempts),
        (200, "recovered", 3)
    );
    assert_eq!(counts.of("/flaky/a"), 3);

    // One failure too many: the last answer is the error.
    let err = http
        .send(Request::get(format!("{base}/flaky/b/3")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::Status {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(counts.of("/flaky/b"), 3);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let (base, counts) = serve().await;
    // Unlimited: the default budget would stop these 16 retries at 11.
    let http = unbudgeted(5);
    for code in [400, 401, 403, 404, 500] {
        let err = http
            .send(Request::get(format!("{base}/status/{code}")))
            .await
            .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("answered {code} after 1 attempt(s)")),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("status {code} as asked")),
            "{shown}"
        );
        assert_eq!(counts.of(&format!("/status/{code}")), 1, "{code}");
    }
    for code in [429, 502, 503, 504] {
        http.send(Request::get(format!("{base}/status/{code}")))
            .await
            .unwrap_err();
        assert_eq!(counts.of(&format!("/status/{code}")), 5, "{code}");
    }
}

#[tokio::test]
async fn a_post_is_retried_only_when_marked_idempotent() {
    let (base, counts) = serve().await;
    let http = Http::builder().retry(quick(3)).build();
    let url = format!("{base}/status/503");
    http.send(Request::post(&url).body("job"))
        .await
        .unwrap_err();
    assert_eq!(counts.of("POST /status/503"), 1);
    http.send(Request::post(&url).body("job").idempotent())
        .await
        .unwrap_err();
    assert_eq!(counts.of("POST /status/503"), 1 + 3);
}

#[tokio::test]
async fn a_refused_connection_is_retried_whatever_the_method() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = Http::builder().retry(quick(3)).build();
    let err = http
        .send(Request::post(format!(
            "http://127.0.0.1:{port}/jobs?token=hunter2"
        )))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Connection { attempts: 3, .. }),
        "{err}"
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("POST http://127.0.0.1:{port}/jobs:")),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let (base, counts) = serve().await;
    // The backoff alone would retry after a millisecond.
    let http = Http::builder().retry(quick(2)).build();
    for form in ["seconds", "date"] {
        let started = Instant::now();
        let answer = http
            .send(Request::get(format!("{base}/retry-after/{form}")))
            .await
            .unwrap();
        assert_eq!(
            (answer.text().as_str(), answer.attempts),
            ("after the wait", 2)
        );
        assert!(
            started.elapsed() >= Duration::from_millis(990),
            "{form}: {:?}",
            started.elapsed()
        );
        assert_eq!(counts.of(&format!("/retry-after/{form}")), 2);
    }
    // A server asking for longer than the policy allows gets no retry.
    let impatient = Http::builder()
        .retry(quick(2).max_retry_after(Duration::from_millis(500)))
        .build();
    let started = Instant::now();
    let err = impatient
        .send(Request::get(format!("{base}/retry-after/again")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::RetryAfterTooLong {
                status: 503,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_retry_after_beyond_any_clock_or_far_away_gets_no_retry() {
    let (base, counts) = serve().await;
    // Everything but the server's wish would retry: attempts, budget and a tiny backoff.
    let http = unbudgeted(5);
    for (form, asked) in [
        ("number", "99999999999999999999"),
        ("date", "Fri, 31 Dec 9999 23:59:59 GMT"),
        ("seconds", "3600"),
    ] {
        let err = http
            .send(Request::get(format!("{base}/too-long/{form}")))
            .await
            .unwrap_err();
        assert_eq!(counts.of(&format!("/too-long/{form}")), 1, "{form}: {err}");
        assert!(
            matches!(&err, HttpError::RetryAfterTooLong { status: 503, asked: a, limit, attempts: 1, .. }
                if a == asked && *limit == Duration::from_secs(60)),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "GET {base}/too-long/{form} answered 503 and asked to be retried after `Retry-After: {asked}`, longer than the 60s cap (RetryPolicy::max_retry_after); not retried after 1 attempt(s): busy for a while"
            )
        );
    }
}

#[tokio::test]
async fn the_retry_budget_bounds_the_extra_load() {
    let (base, counts) = serve().await;
    let url = format!("{base}/status/503");
    // Retries within 10 % of the calls, plus 2: 20 failing calls make 20 + 2 + 2 requests.
    let budget = RetryBudget::new(0.1, 2, Duration::from_secs(60));
    let http = Http::builder().retry(quick(5)).budget(budget).build();
    for _ in 0..20 {
        http.send(Request::get(&url)).await.unwrap_err();
    }
    assert_eq!(counts.of("/status/503"), 24);

    // Without a budget every call makes its five attempts.
    let (base, counts) = serve().await;
    let unbounded = unbudgeted(5);
    for _ in 0..20 {
        unbounded
            .send(Request::get(format!("{base}/status/503")))
            .await
            .unwrap_err();
    }
    assert_eq!(counts.of("/status/503"), 100);
}

#[tokio::test]
async fn bodies_over_the_cap_and_slow_answers_are_errors() {
    let (base, _) = serve().await;
    let capped = Http::builder().max_body(10_000).build();
    let err = capped
        .send(Request::get(format!("{base}/big")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::TooLarge { limit: 10_000, .. }),
        "{err}"
    );
    let roomy = Http::builder().max_body(100_000).build();
    assert_eq!(
        roomy
            .send(Request::get(format!("{base}/big")))
            .await
            .unwrap()
            .body
            .len(),
        100_000
    );

    let hurried = Http::builder().timeout(Duration::from_millis(100)).build();
    let started = Instant::now();
    let err = hurried
        .send(Request::get(format!("{base}/slow")))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn hosts_off_the_allowlist_are_refused_before_any_connection() {
    let (base, counts) = serve().await;
    let (other, other_counts) = serve().await;
    let here = base.trim_start_matches("http://").to_owned();
    let http = Http::builder().allow([here.as_str()]).build();
    assert_eq!(
        http.send(Request::get(format!("{base}/ok")))
            .await
            .unwrap()
            .text(),
        "hello"
    );

    let elsewhere = Http::builder().allow(["api.example.com"]).build();
    let err = elsewhere
        .send(Request::get(format!("{base}/ok")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{here}` is not on the allowlist (an entry without a port admits the scheme's default port only; `host:*` admits every port)"
        )
    );
    assert_eq!(counts.of("/ok"), 1);

    // A redirect to `localhost` — the other server — is refused before it is followed.
    let port = other.rsplit(':').next().unwrap();
    let to = format!("http://localhost:{port}/ok");
    let err = http
        .send(Request::get(format!("{base}/redirect?to={to}")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HttpError::RedirectNotAllowed { host, port: Some(p), .. }
            if host == "localhost" && p.to_string() == port),
        "{err}"
    );
    assert_eq!(counts.of("/redirect"), 1);
    assert_eq!(other_counts.of("/ok"), 0);
    // Allowed, the same redirect is followed.
    let both = Http::builder()
        .allow(["127.0.0.1:*", "localhost:*"])
        .build();
    let answer = both
        .send(Request::get(format!("{base}/redirect?to={to}")))
        .await
        .unwrap();
    assert_eq!(answer.text(), "hello");
    assert_eq!(other_counts.of("/ok"), 1);
}

/// A listener on 127.0.0.1 that accepts connections and counts them: its port and the count.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, accepted)
}

/// The connections `port`'s counting listener accepted before now: connects once more and waits
/// for that connection to be counted, so that any earlier one has been too; returns the count
/// before it.
async fn accepted_before_now(port: u16, accepted: &AtomicUsize) -> usize {
    let before = accepted.load(Ordering::SeqCst);
    let _probe = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    while accepted.load(Ordering::SeqCst) == before {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    accepted.load(Ordering::SeqCst) - 1
}

#[tokio::test]
async fn an_allowlist_entry_admits_its_port_only() {
    let (base, counts) = serve().await;
    let here = base.trim_start_matches("http://").to_owned();
    let (port, accepted) = counting_listener().await;

    // `127.0.0.1` admits port 80 only; `127.0.0.1:{here}` that port only.
    for entry in ["127.0.0.1".to_owned(), here.clone()] {
        let http = Http::builder().allow([entry.as_str()]).build();
        let err = http
            .send(Request::get(format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HttpError::NotAllowed { host, port: Some(p) } if host == "127.0.0.1" && *p == port),
            "{entry}: {err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("`127.0.0.1:{port}` is not on the allowlist")),
            "{err}"
        );
        // A redirect from an admitted port to another is refused the same way.
        let err = http
            .send(Request::get(format!(
                "{base}/redirect?to=http://127.0.0.1:{port}/"
            )))
            .await
            .unwrap_err();
        if entry == here {
            assert!(
                matches!(&err, HttpError::RedirectNotAllowed { port: Some(p), .. } if *p == port),
                "{err:?}"
            );
        }
    }
    assert_eq!(accepted_before_now(port, &accepted).await, 0);
    assert_eq!(counts.of("/redirect"), 1);

    // The entry's own port, and `host:*`, are admitted.
    for entry in [here.as_str(), "127.0.0.1:*"] {
        let http = Http::builder().allow([entry]).build();
        let answer = http.send(Request::get(format!("{base}/ok"))).await.unwrap();
        assert_eq!(answer.text(), "hello", "{entry}");
    }
    assert_eq!(counts.of("/ok"), 2);
}

#[tokio::test]
async fn a_credential_is_sent_but_never_shown() {
    let (base, _) = serve().await;
    let http = Http::builder().retry(quick(1)).build();
    let request = Request::get(format!("{base}/echo-auth?key=sk-live-123"))
        .header("authorization", "Bearer sk-live-123");
    assert!(!format!("{request:?}").contains("sk-live-123"));
    let answer = http.send(request).await.unwrap();
    assert_eq!(answer.text(), "Bearer sk-live-123");
    let err = http
        .send(
            Request::get(format!("{base}/status/401?key=sk-live-123"))
                .header("authorization", "Bearer sk-live-123"),
        )
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("sk-live-123"), "{err}");
    assert!(!format!("{err:?}").contains("sk-live-123"), "{err:?}");
}

#[tokio::test]
async fn the_http_tool_is_a_plan_step_whose_errors_name_it() {
    let (base, _) = serve().await;
    let http = Http::builder().retry(quick(1)).build();
    let base_ok = base.clone();
    let to_request = move |path: &'static str| Request::get(format!("{base_ok}{path}"));
    let text = |r: plan_tools::http::Response| r.text();
    let fetch = plan! { to_request >> #[name = "call"] (http.clone()) >> text };
    assert_eq!(fetch.run("/ok").await.unwrap(), "hello");
    let err = fetch.run("/status/404").await.unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("call", "1"));
    assert!(err.step_error::<HttpError>().is_some());
}

#[tokio::test]
async fn a_request_over_the_budget_is_not_retried() {
    use plan_tools::budget::{Budget, BudgetExceeded};

    let (base, counts) = serve().await;
    let http = Http::builder().retry(quick(1)).build();
    let to_request = move |_: ()| Request::get(format!("{base}/ok"));
    let text = |r: plan_tools::http::Response| r.text();
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let count = |request: Request| {
        attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        request
    };
    let fetch = plan! {
        to_request >> #[retry(5, backoff = 1ms)] #[name = "fetch"] seq { count >> (http.clone()) >> text }
    };
    let budget = Budget::new().requests(1);
    fetch.run(()).with(&budget).await.unwrap();
    let refused = fetch.run(()).with(&budget).await.unwrap_err();
    assert_eq!(
        refused.caused_by::<BudgetExceeded>(),
        Some(&BudgetExceeded::Requests { limit: 1 }),
        "{refused:?}"
    );
    // One attempt for each run: the refusal, wrapped in the HTTP step's error, is not retried.
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(counts.of("/ok"), 1);
}

#[tokio::test]
async fn a_run_s_budget_is_shared_by_its_branches_and_stops_calls_before_they_are_sent() {
    use plan_tools::budget::{Budget, BudgetExceeded};

    let (base, counts) = serve().await;
    let http = Http::builder().retry(quick(1)).build();
    let to_request = move |_: ()| Request::get(format!("{base}/ok"));
    let text = |r: plan_tools::http::Response| r.text();
    let three = plan! {
        to_request >> par(settled) {
            #[name = "a"] (http.clone()) >> text,
            #[name = "b"] (http.clone()) >> text,
            #[name = "c"] (http.clone()) >> text,
        }
    };
    let budget = Budget::new().requests(2);
    let (a, b, c) = three.run(()).with(&budget).await.unwrap();
    let outcomes = [a, b, c];
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 2);
    let refused = outcomes.into_iter().find_map(Result::err).unwrap();
    assert!(matches!(
        refused.step_error::<HttpError>(),
        Some(HttpError::OverBudget(BudgetExceeded::Requests { limit: 2 }))
    ));
    assert!(["a", "b", "c"].contains(&refused.node().name), "{refused}");
    // The step's error says the request was not sent; its cause, why.
    assert!(
        refused.to_string().contains("the request was not sent"),
        "{refused}"
    );
    assert_eq!(
        refused.caused_by::<BudgetExceeded>(),
        Some(&BudgetExceeded::Requests { limit: 2 })
    );
    assert!(
        format!("{refused:?}").contains("Caused by:\n    the run's budget of 2 requests is spent"),
        "{refused:?}"
    );
    // The refused call was never sent.
    assert_eq!(counts.of("/ok"), 2);
    assert_eq!(budget.spent().requests, 2);

    // The same plan without a budget makes all three calls.
    assert!(three.run(()).await.unwrap().2.is_ok());
    assert_eq!(counts.of("/ok"), 5);
}

#[tokio::test]
async fn the_run_report_counts_requests_retries_and_the_success_rate() {
    let (base, _) = serve().await;
    let http = unbudgeted(3);
    let to_request = move |path: String| Request::get(format!("{base}{path}"));
    let call = plan! { to_request >> #[name = "call"] (http.clone()) };
    let (out, report) = call.run("/flaky/r/2".to_owned()).reported().await;
    assert_eq!(out.unwrap().attempts, 3);
    let record = report.find("call").unwrap();
    assert_eq!(
        record.counters,
        [("requests", 3.0), ("retries", 2.0), ("requests_ok", 1.0)]
    );
    let shown = report.to_string();
    assert!(
        shown.contains("ok, requests 3, retries 2, requests_ok 1"),
        "{shown}"
    );
    assert!(
        shown.contains("counted: requests 3 · retries 2 · requests_ok 1 · success rate 33 %"),
        "{shown}"
    );
    let json = serde_json::to_value(&report).unwrap();
    let call_json = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "call")
        .unwrap();
    assert_eq!(call_json["counters"]["retries"], 2.0);
    let trace = serde_json::to_value(report.chrome_trace()).unwrap();
    assert!(trace.to_string().contains("\"requests_ok\":1.0"), "{trace}");
}

/// A server whose first `resets` connections are reset once the request has arrived; the
/// next answer `200 ok`. Its port and the connections it accepted.
async fn resetting_server(resets: usize) -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            // The request's first bytes: the server has seen it.
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            if n < resets {
                // Closed with unread data and no linger: the client sees a reset.
                socket.set_zero_linger().unwrap();
                drop(socket);
            } else {
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            }
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn a_connection_reset_after_the_request_is_retried_only_if_the_request_is_idempotent() {
    let http = Http::builder()
        .retry(RetryPolicy::new(3).backoff(Duration::from_millis(1)))
        .build();
    let (port, accepted) = resetting_server(1).await;
    let answer = http
        .send(Request::get(format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap();
    assert_eq!((answer.text(), answer.attempts), ("ok".into(), 2));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    // A POST the server may have acted on is not sent again.
    let (port, accepted) = resetting_server(1).await;
    let err = http
        .send(Request::post(format!("http://127.0.0.1:{port}/")).body("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Connection { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
