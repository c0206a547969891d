//! The tools' values as serde values: what a model or HTTP step gives, read back as it was
//! written (so a durable run's journal and a bus carry it whole), and no secret written down.

use bytes::Bytes;
use plan_tools::http::{Request, Response};
use plan_tools::llm::{ChatMessage, Completion, FunctionDelta, StreamEvent, ToolCallDelta, Usage};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// `value` written as JSON and read back.
fn again<T: Serialize + DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

#[test]
fn a_completion_with_tool_calls_nulls_and_extensions_reads_back_as_it_was() {
    // As a vLLM-style server writes it: `null` for what it leaves unset, fields this crate
    // does not model.
    let completion: Completion = serde_json::from_value(json!({
        "id": "c1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "small",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": null,
                "reasoning_content": "look it up",
                "tool_calls": [{
                    "id": "call-1",
                    "type": null,
                    "function": { "name": "search", "arguments": "{\"q\":\"tokio\"}" }
                }]
            },
            "finish_reason": "tool_calls",
            "logprobs": null
        }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19,
                   "prompt_tokens_details": { "cached_tokens": 4 } },
        "system_fingerprint": null
    }))
    .unwrap();
    let read = again(&completion);
    assert_eq!(read, completion);
    assert_eq!(read.tool_calls()[0].function.name, "search");
    assert_eq!(read.tool_calls()[0].kind, "function");
    assert_eq!(
        read.usage.extra["prompt_tokens_details"],
        json!({ "cached_tokens": 4 })
    );
    assert_eq!(
        read.choices[0].message.extra["reasoning_content"],
        "look it up"
    );
}

#[test]
fn an_estimated_usage_stays_an_estimate() {
    let usage = Usage::estimate(40, 8);
    assert_eq!(again(&usage), usage);
    assert!(again(&usage).estimated);
    let tool = ChatMessage::tool_result("call-1", "42");
    assert_eq!(again(&tool), tool);
}

#[test]
fn every_stream_event_reads_back_as_it_was() {
    let events = [
        StreamEvent::Text {
            choice: 0,
            text: "Hel".to_owned(),
        },
        StreamEvent::ToolCall {
            choice: 1,
            delta: ToolCallDelta {
                index: 0,
                id: Some("call-1".to_owned()),
                kind: Some("function".to_owned()),
                function: Some(FunctionDelta {
                    name: Some("search".to_owned()),
                    arguments: Some("{\"q\":".to_owned()),
                }),
                extra: Default::default(),
            },
        },
        StreamEvent::Finish {
            choice: 0,
            reason: "stop".to_owned(),
        },
        StreamEvent::Usage(Usage::estimate(3, 4)),
    ];
    for event in events {
        assert_eq!(again(&event), event);
    }
}

#[test]
fn a_request_without_secrets_reads_back_as_it_was() {
    let request = Request::new(
        reqwest::Method::PATCH,
        "http://127.0.0.1:8080/v1/jobs/7?q=a+b",
    )
    .header("x-request-id", "r1")
    .header("accept", "application/json")
    .body(Bytes::from_static(&[0, 159, 146, 150]))
    .idempotent();
    let written = serde_json::to_value(&request).unwrap();
    assert_eq!(
        written,
        json!({
            "method": "PATCH",
            "url": "http://127.0.0.1:8080/v1/jobs/7?q=a+b",
            "headers": [["x-request-id", "r1"], ["accept", "application/json"]],
            "body": [0, 159, 146, 150],
            "idempotent": true,
        })
    );
    let read: Request = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(serde_json::to_value(&read).unwrap(), written);
    // A POST read back is no more idempotent than it was.
    let post: Request = again(&Request::post("http://127.0.0.1:8080/v1").json(&json!({"a": 1})));
    assert_eq!(
        serde_json::to_value(&post).unwrap(),
        json!({
            "method": "POST",
            "url": "http://127.0.0.1:8080/v1",
            "headers": [["content-type", "application/json"]],
            "body": "{\"a\":1}",
            "idempotent": false,
        })
    );
}

#[test]
fn a_request_with_a_secret_is_refused_naming_it_without_its_value() {
    let base = "http://127.0.0.1:8080/v1";
    let cases = [
        (
            Request::get(base).header("Authorization", "Bearer s3cr3t-value"),
            "the header `authorization`",
        ),
        (
            Request::get(base).secret_header("x-signature", "s3cr3t-value"),
            "the header `x-signature`",
        ),
        (
            Request::get("http://ada:s3cr3t-value@127.0.0.1:8080/v1"),
            "the URL's user name and password",
        ),
        (
            Request::get(format!("{base}?page=2&api_key=s3cr3t-value")),
            "the query parameter `api_key`",
        ),
        (
            Request::get(base).secret_query("sig", "s3cr3t-value"),
            "the secret query parameter `sig`",
        ),
    ];
    for (request, named) in cases {
        let err = serde_json::to_string(&request).unwrap_err().to_string();
        assert!(err.contains(named), "{named}: {err}");
        assert!(err.contains("is not serialized"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}

#[test]
fn what_is_not_a_request_is_an_error_naming_what_is_wrong() {
    let read = |value| {
        serde_json::from_value::<Request>(value)
            .unwrap_err()
            .to_string()
    };
    let bad_method = read(json!({ "method": "GE T", "url": "http://a", "idempotent": true }));
    assert!(
        bad_method.contains("`GE T` is not an HTTP method"),
        "{bad_method}"
    );
    let bad_header = read(json!({
        "method": "GET", "url": "http://a", "idempotent": true, "headers": [["bad name", "v"]]
    }));
    assert!(
        bad_header.contains("`bad name` is not a valid header name"),
        "{bad_header}"
    );
}

#[test]
fn a_response_is_written_without_the_headers_that_carry_credentials() {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("content-type", "application/octet-stream".parse().unwrap());
    headers.append("set-cookie", "session=s3cr3t-value".parse().unwrap());
    headers.insert("x-api-key", "s3cr3t-value".parse().unwrap());
    headers.insert("etag", "\"v1\"".parse().unwrap());
    let response = Response {
        status: 201,
        headers,
        body: Bytes::from_static(&[255, 0, 1]),
        attempts: 2,
    };
    let written = serde_json::to_string(&response).unwrap();
    assert!(!written.contains("s3cr3t"), "{written}");
    let read: Response = serde_json::from_str(&written).unwrap();
    assert_eq!((read.status, read.attempts), (201, 2));
    assert_eq!(read.body, response.body);
    let names: Vec<&str> = read.headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["content-type", "etag"]);
    assert_eq!(read.headers["etag"], "\"v1\"");
}
