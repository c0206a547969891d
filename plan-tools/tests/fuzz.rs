//! Property tests of every parser that reads outside input — the SSE decoder, the allowlist
//! and the URLs it judges, `Retry-After` (through a real server), the redactor, and MCP
//! argument validation (with the `mcp` feature) — fed arbitrary bytes and structure-aware
//! input: no panic, what a parser holds is capped, every rejection is a typed error.
//!
//! The default run is a few seconds (proptest's default case count). The longer run, for
//! maintainers: `PROPTEST_CASES=100000 cargo test -p plan-tools --all-features --test fuzz --release`.

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use plan_tools::allow::Allowlist;
use plan_tools::redact::Redactor;
use plan_tools::sse::{SseDecoder, SseError, SseEvent};
use proptest::prelude::*;

/// The cap the SSE properties decode under: small, so that arbitrary input passes it often.
const CAP: usize = 64;

/// Decodes `body` cut at `cuts` under the cap: the events, and the error that stopped it.
fn decode_split(body: &[u8], cuts: &[prop::sample::Index]) -> (Vec<SseEvent>, Option<SseError>) {
    let mut positions: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
    positions.sort_unstable();
    let mut decoder = SseDecoder::new().max_event(CAP);
    let mut events = Vec::new();
    let mut start = 0;
    for end in positions.into_iter().chain([body.len()]) {
        if let Err(err) = decoder.feed_into(&body[start..end], &mut events) {
            return (events, Some(err));
        }
        start = end;
    }
    (events, None)
}

/// Bytes shaped like an event stream: fields, comments, every line end, long runs.
fn event_stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event: ".to_vec()),
        Just(b"id: ".to_vec()),
        Just(b"retry: ".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
        (1..200usize).prop_map(|n| vec![b'x'; n]),
    ];
    proptest::collection::vec(piece, 0..32).prop_map(|pieces| pieces.concat())
}

/// An allowlist host and the spelling a URL might use for it.
fn host() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        "[a-z]{1,8}(\\.[a-z]{1,8}){0,2}".prop_map(|h| (h.clone(), h)),
        Just(("127.0.0.1".to_owned(), "127.0.0.1".to_owned())),
        Just(("[::1]".to_owned(), "[::1]".to_owned())),
        Just(("10.0.0.1".to_owned(), "10.0.0.1".to_owned())),
    ]
}

proptest! {
    #[test]
    fn sse_any_bytes_any_split_decode_as_unsplit_under_the_cap(
        body in prop_oneof![event_stream(), proptest::collection::vec(any::<u8>(), 0..512)],
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let whole = decode_split(&body, &[]);
        let split = decode_split(&body, &cuts);
        prop_assert_eq!(&split, &whole);
        let (events, error) = whole;
        for event in &events {
            // Nothing held past the cap: no event is larger.
            prop_assert!(event.data.len() <= CAP, "{} bytes", event.data.len());
            prop_assert!(event.event.len() <= CAP);
            prop_assert!(event.id.as_ref().is_none_or(|id| id.len() <= CAP));
        }
        if let Some(err) = error {
            prop_assert_eq!(err, SseError::TooLarge { limit: CAP });
        }
    }

    #[test]
    fn sse_a_line_that_never_ends_is_an_error_once_past_the_cap(
        chunks in proptest::collection::vec(proptest::collection::vec(1u8..=255, 1..40), 1..40),
    ) {
        let chunks: Vec<Vec<u8>> = chunks
            .into_iter()
            .map(|c| c.into_iter().filter(|b| *b != b'\n' && *b != b'\r').collect())
            .collect();
        let total: usize = chunks.iter().map(Vec::len).sum();
        let mut decoder = SseDecoder::new().max_event(CAP);
        let mut fed = 0;
        let mut failed = false;
        for chunk in &chunks {
            fed += chunk.len();
            match decoder.feed(chunk) {
                Ok(events) => {
                    prop_assert!(events.is_empty());
                    prop_assert!(fed <= CAP, "{fed} bytes held");
                }
                Err(err) => {
                    prop_assert_eq!(err, SseError::TooLarge { limit: CAP });
                    prop_assert!(fed > CAP);
                    failed = true;
                    break;
                }
            }
        }
        prop_assert_eq!(failed, total > CAP);
    }

    #[test]
    fn allowlist_entries_and_urls_of_any_text_never_panic(
        entries in proptest::collection::vec(".{0,24}", 0..6),
        url in ".{0,48}",
    ) {
        let allow = Allowlist::new(&entries);
        let _ = format!("{allow:?}");
        let _ = allow.admits(&url);
        let with_scheme = format!("http://{url}");
        let _ = allow.admits(&with_scheme);
    }

    #[test]
    fn allowlist_admits_exactly_the_host_and_port_an_entry_names(
        (entry_host, url_host) in host(),
        other in "[a-z]{1,8}\\.example",
        entry_port in prop_oneof![Just(None), Just(Some("*".to_owned())), (1u16..).prop_map(|p| Some(p.to_string()))],
        https in any::<bool>(),
        url_port in prop_oneof![Just(None), Just(Some(80u16)), Just(Some(443u16)), any::<u16>().prop_map(Some)],
    ) {
        prop_assume!(other != entry_host);
        let entry = match &entry_port {
            Some(port) => format!("{entry_host}:{port}"),
            None => entry_host.clone(),
        };
        let scheme = if https { "https" } else { "http" };
        let default = if https { 443 } else { 80 };
        let authority = match url_port {
            Some(port) => format!("{url_host}:{port}"),
            None => url_host.clone(),
        };
        let allow = Allowlist::new([entry.as_str()]);
        let port = url_port.unwrap_or(default);
        let expected = match entry_port.as_deref() {
            None => port == default,
            Some("*") => true,
            Some(p) => p.parse::<u16>().unwrap() == port,
        };
        let url = format!("{scheme}://{authority}/x");
        let elsewhere = format!("{scheme}://{other}:{port}/x");
        prop_assert_eq!(allow.admits(&url), expected, "{} {}", entry, url);
        prop_assert!(!allow.admits(&elsewhere));
    }

    #[test]
    fn a_redactor_leaves_no_secret_in_any_text(
        // No NUL: it marks where a secret was, below.
        secret in "[^\\x00]{1,12}",
        before in ".{0,24}",
        after in ".{0,24}",
        text in ".{0,64}",
        spelling in 0..4usize,
    ) {
        let secrets = Redactor::new().secret(&secret);
        let spelled = spell(&secret, spelling);
        for text in [text.clone(), format!("{before}{spelled}{after}"), format!("{text}{secret}")] {
            // Markers out of the way, so that no text is joined across one.
            let scrubbed = secrets.scrub(&text).replace("[redacted]", "\0");
            prop_assert!(!scrubbed.contains(&secret), "{:?} in {:?}", secret, scrubbed);
            prop_assert!(!scrubbed.contains(&spelled), "{:?} in {:?}", spelled, scrubbed);
        }
    }
}

/// `value` spelled as a server might echo it: as it is, JSON-escaped with `\/`, or
/// percent-encoded in upper- or lower-case hex.
fn spell(value: &str, spelling: usize) -> String {
    let encoded = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
    match spelling {
        1 => {
            let quoted = serde_json::to_string(value).unwrap();
            quoted[1..quoted.len() - 1].replace('/', "\\/")
        }
        2 => encoded,
        3 => {
            // Lower-case hex digits, a space as `+`.
            let mut lower = String::new();
            let mut hex_left = 0;
            for c in encoded.replace("%20", "+").chars() {
                hex_left = if c == '%' {
                    2
                } else {
                    hex_left - usize::from(hex_left > 0)
                };
                lower.push(if hex_left > 0 && c != '%' {
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

/// `Retry-After` through a real server: the value a case asks for is what the server answers.
mod retry_after {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::RawQuery;
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    use percent_encoding::percent_decode_str;
    use plan_tools::http::{Http, HttpError, Request, RetryBudget, RetryPolicy};

    use super::*;

    /// Requests the server got, over all cases.
    static REQUESTS: AtomicUsize = AtomicUsize::new(0);

    /// One runtime, one server and one client (its connections reused) for every case.
    fn server() -> &'static (tokio::runtime::Runtime, String, Http) {
        static SERVER: OnceLock<(tokio::runtime::Runtime, String, Http)> = OnceLock::new();
        SERVER.get_or_init(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let addr = rt.block_on(async {
                // Answers 503 with the `Retry-After` its query spells, percent-encoded.
                let app = axum::Router::new().route(
                    "/",
                    axum::routing::get(|RawQuery(q): RawQuery| async move {
                        REQUESTS.fetch_add(1, Ordering::SeqCst);
                        let asked: Vec<u8> = percent_decode_str(&q.unwrap_or_default()).collect();
                        let mut answer = StatusCode::SERVICE_UNAVAILABLE.into_response();
                        if let Ok(value) = HeaderValue::from_bytes(&asked) {
                            answer.headers_mut().insert(header::RETRY_AFTER, value);
                        }
                        answer
                    }),
                );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
                addr.to_string()
            });
            // A cap of zero: any wait asked for refuses the retry; none or zero retries.
            let http = Http::builder()
                .retry(
                    RetryPolicy::new(2)
                        .backoff(Duration::from_millis(1))
                        .max_retry_after(Duration::ZERO),
                )
                .budget(RetryBudget::unlimited())
                .build();
            (rt, addr, http)
        })
    }

    /// A header value a server might send: numbers of any size, dates, any bytes.
    fn retry_after_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "[0-9]{1,40}".prop_map(String::into_bytes),
            " ?[0-9]{1,30} ?".prop_map(String::into_bytes),
            // Dates up to the last second of 9999, the last an HTTP date can name.
            (0u64..253_402_300_800).prop_map(|s| {
                let at = std::time::UNIX_EPOCH + Duration::from_secs(s);
                httpdate::fmt_http_date(at).into_bytes()
            }),
            "[-+0-9a-zA-Z ,:.]{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..80),
        ]
    }

    proptest! {
        #[test]
        fn any_retry_after_gives_a_retry_or_a_typed_refusal(value in retry_after_value()) {
            let (rt, addr, http) = server();
            let query = percent_encoding::percent_encode(&value, NON_ALPHANUMERIC).to_string();
            let before = REQUESTS.load(Ordering::SeqCst);
            let err = rt.block_on(http.send(Request::get(format!("http://{addr}/?{query}")))).unwrap_err();
            let requests = REQUESTS.load(Ordering::SeqCst) - before;
            let text = String::from_utf8_lossy(&value).trim().to_owned();
            let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
            match &err {
                HttpError::RetryAfterTooLong { asked, attempts: 1, .. } => {
                    prop_assert_eq!(requests, 1);
                    prop_assert!(asked.chars().count() <= 65, "{asked}");
                }
                HttpError::Status { status: 503, attempts: 2, .. } => {
                    prop_assert_eq!(requests, 2);
                    // A number of seconds other than 0 is never retried under a zero cap.
                    prop_assert!(!digits || text.bytes().all(|b| b == b'0'), "{text:?}: {err}");
                }
                other => prop_assert!(false, "{other}"),
            }
        }
    }
}

/// MCP argument validation: arbitrary schemas (structure-aware: the keywords it reads, with
/// values of any type) against arbitrary arguments.
#[cfg(feature = "mcp")]
mod mcp_arguments {
    use plan_tools::mcp::{McpError, check_arguments};
    use serde_json::{Map, Value, json};

    use super::*;

    /// Any JSON value, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|x| json!(x)),
            ".{0,12}".prop_map(Value::String),
            "[a-c]".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]{1,2}|.{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A schema: the keywords the validator reads, each with a value of the right type or
    /// of any type, nested through the keywords that take schemas.
    fn schema() -> impl Strategy<Value = Value> {
        let type_name = prop_oneof![
            Just("object"),
            Just("array"),
            Just("string"),
            Just("number"),
            Just("integer"),
            Just("boolean"),
            Just("null"),
            Just("other"),
        ];
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            json_value(),
            type_name.clone().prop_map(|t| json!({ "type": t })),
            proptest::collection::vec(type_name, 0..3).prop_map(|t| json!({ "type": t })),
            proptest::collection::vec(json_value(), 0..4).prop_map(|e| json!({ "enum": e })),
            json_value().prop_map(|c| json!({ "const": c })),
            (
                prop_oneof![
                    Just("minItems"),
                    Just("maxItems"),
                    Just("minLength"),
                    Just("maxLength"),
                    Just("minimum"),
                    Just("maximum"),
                    Just("exclusiveMinimum"),
                    Just("exclusiveMaximum")
                ],
                prop_oneof![
                    any::<i64>().prop_map(|n| json!(n)),
                    any::<f64>().prop_map(|x| json!(x)),
                    json_value()
                ],
            )
                .prop_map(|(k, v)| json!({ k: v })),
            proptest::collection::vec("[a-c]{1,2}", 0..4).prop_map(|r| json!({ "required": r })),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::btree_map("[a-c]{1,2}", inner.clone(), 0..4)
                    .prop_map(|p| json!({ "type": "object", "properties": Value::Object(p.into_iter().collect()) })),
                inner.clone().prop_map(|s| json!({ "additionalProperties": s })),
                inner.clone().prop_map(|s| json!({ "items": s })),
                inner.clone().prop_map(|s| json!({ "not": s })),
                (prop_oneof![Just("allOf"), Just("anyOf"), Just("oneOf")], proptest::collection::vec(inner.clone(), 0..4))
                    .prop_map(|(k, v)| json!({ k: v })),
                proptest::collection::vec(inner, 1..4).prop_map(|parts| {
                    // Several keywords in one schema.
                    let mut merged = Map::new();
                    for part in parts {
                        if let Value::Object(part) = part {
                            merged.extend(part);
                        }
                    }
                    Value::Object(merged)
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_schema_and_arguments_give_an_object_or_a_typed_short_refusal(
            schema in schema(),
            arguments in json_value(),
        ) {
            match check_arguments("tool", &schema, arguments.clone()) {
                Ok(object) => {
                    let expected = match arguments {
                        Value::Null => Map::new(),
                        Value::Object(object) => object,
                        other => return Err(TestCaseError::fail(format!("accepted {other}"))),
                    };
                    prop_assert_eq!(object, expected);
                }
                Err(McpError::InvalidArguments { tool, problem }) => {
                    prop_assert_eq!(tool, "tool");
                    prop_assert!(problem.chars().count() <= 1001, "{} chars", problem.len());
                }
                Err(other) => prop_assert!(false, "{other}"),
            }
        }

        #[test]
        fn a_schema_of_true_or_empty_admits_every_object(arguments in json_value()) {
            let object = matches!(arguments, Value::Object(_) | Value::Null);
            for schema in [json!(true), json!({})] {
                prop_assert_eq!(check_arguments("tool", &schema, arguments.clone()).is_ok(), object);
            }
            prop_assert!(check_arguments("tool", &json!(false), arguments.clone()).is_err());
        }
    }

    #[test]
    fn long_names_and_lists_are_cut_in_messages() {
        let name = "n".repeat(500_000);
        let properties: Map<String, Value> =
            (0..10_000).map(|i| (format!("p{i}"), json!({}))).collect();
        let schema = json!({ "properties": properties, "additionalProperties": false });
        let err = check_arguments("tool", &schema, json!({ name.clone(): 1 })).unwrap_err();
        assert!(
            err.to_string().len() < 1200,
            "{} bytes",
            err.to_string().len()
        );
        assert!(err.to_string().contains("(10000 in all)"), "{err}");

        let allowed: Vec<Value> = (0..10_000).map(|i| json!(i)).collect();
        let schema = json!({ "properties": { "x": { "enum": allowed } } });
        let err = check_arguments("tool", &schema, json!({ "x": -1 })).unwrap_err();
        assert!(err.to_string().len() < 1200, "{err}");
        let required = json!({ "required": [name] });
        let err = check_arguments("tool", &required, json!({})).unwrap_err();
        assert!(
            err.to_string().len() < 1200,
            "{} bytes",
            err.to_string().len()
        );
    }
}
