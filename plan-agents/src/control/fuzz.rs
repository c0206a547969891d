//! Fuzzing the frame handler: arbitrary text, and requests and batches built to look almost
//! right, fed to what a connection does with each text frame. Whatever comes, nothing
//! panics, every rejection is a JSON-RPC error object, and the answer stays within the
//! limits. A longer run:
//! `PROPTEST_CASES=100000 cargo test -p plan-agents --features control --release --lib control::fuzz`.

use std::sync::Arc;

use plan_runtime::prelude::*;
use plan_state::store::InMemory;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::board::RunBoard;
use super::connection::handle;
use super::limits::Limits;
use super::methods::{Api, METHODS};
use super::rpc::{INVALID_REQUEST, NOT_RUN, TOO_LARGE};
use super::subscription::Subscriptions;
use crate::session::{Agents, Turn};

/// Limits small enough that the cases reach them.
fn limits() -> Limits {
    Limits {
        max_batch: 8,
        max_response: 600,
        ..Limits::default()
    }
}

/// The most bytes a refusal past the answers' limit takes, besides its id.
const REFUSAL: usize = 300;

async fn count(mut turn: Turn<u64>) -> Turn<u64> {
    turn.state += 1;
    turn
}

/// The reply to `text` from a connection of fresh agents (so that cases do not pile up
/// agents and schedules).
fn reply(text: &str) -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let agents = Agents::builder(Arc::new(InMemory::new()))
            .kind("counter", plan! { count })
            .start()
            .await
            .unwrap();
        let api = Api {
            agents,
            runs: RunBoard::new(),
        };
        handle(&api, &mut Subscriptions::default(), text, &limits()).await
    })
}

/// Checks one response object: `jsonrpc`, an `id`, and a result or a well-formed error.
fn check_response(response: &Value) -> Result<(), TestCaseError> {
    let object = response.as_object().ok_or_else(|| fail(response))?;
    prop_assert_eq!(&object["jsonrpc"], "2.0");
    prop_assert!(object.contains_key("id"), "{}", response);
    match (object.get("result"), object.get("error")) {
        (Some(_), None) => {}
        (None, Some(error)) => {
            prop_assert!(error["code"].is_i64(), "{}", response);
            prop_assert!(error["message"].is_string(), "{}", response);
        }
        _ => return Err(fail(response)),
    }
    Ok(())
}

fn fail(response: &Value) -> TestCaseError {
    TestCaseError::fail(format!("not a response: {response}"))
}

/// Checks a reply: JSON, responses, and within the answers' limit: the responses before the
/// first `too_large` error (-32020) take at most the limit, and after it come only short
/// refusals (-32021 for calls not run, -32600 for what is not a request).
fn check(text: &str, reply: Option<String>) -> Result<(), TestCaseError> {
    let Some(reply) = reply else {
        return Ok(());
    };
    let calls = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(calls)) => calls.len(),
        _ => 1,
    };
    let code = |response: &Value| response["error"]["code"].as_i64();
    match serde_json::from_str::<Value>(&reply) {
        Ok(Value::Array(responses)) => {
            prop_assert!(!responses.is_empty() && responses.len() <= calls);
            responses.iter().try_for_each(check_response)?;
            let cut = responses
                .iter()
                .position(|response| code(response) == Some(TOO_LARGE))
                .unwrap_or(responses.len());
            // The server wrote each response as serde_json writes it, which reading and
            // writing again gives back byte for byte.
            let answered: usize = responses[..cut]
                .iter()
                .map(|r| r.to_string().len() + 1)
                .sum();
            prop_assert!(
                answered < limits().max_response,
                "{} bytes answered",
                answered + 1
            );
            for refusal in responses.iter().skip(cut) {
                prop_assert!(
                    matches!(code(refusal), Some(TOO_LARGE | NOT_RUN | INVALID_REQUEST)),
                    "{}",
                    refusal
                );
                prop_assert!(
                    refusal.to_string().len() <= REFUSAL + refusal["id"].to_string().len()
                );
            }
            Ok(())
        }
        Ok(response) => {
            check_response(&response)?;
            prop_assert!(
                reply.len() <= limits().max_response || code(&response) == Some(TOO_LARGE)
            );
            Ok(())
        }
        Err(error) => Err(TestCaseError::fail(format!("not JSON ({error}): {reply}"))),
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A field a method might take, or one it does not.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "name", "kind", "state", "agent", "task", "input", "priority", "message", "for_ms",
            "until_ms", "events", "mail", "event", "every_ms", "cron",
        ])
        .prop_map(str::to_owned),
        ".{0,8}",
    ]
}

/// A value for a field: mostly what such fields hold, sometimes anything.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec!["a", "b", "counter", "count", "* * * * * *", "deploy"])
            .prop_map(Value::from),
        (0u64..300_000).prop_map(Value::from),
        any_json(),
    ]
}

/// A request that is often right and often almost: its method, params, id and version drawn
/// from what a client sends and what it should not.
fn request() -> impl Strategy<Value = Value> {
    let method = prop_oneof![
        prop::sample::select(METHODS.to_vec()).prop_map(Value::from),
        ".{0,10}".prop_map(Value::from),
        any_json(),
    ];
    let params = prop_oneof![
        Just(None),
        prop::collection::btree_map(field(), field_value(), 0..5)
            .prop_map(|map| Some(Value::Object(map.into_iter().collect()))),
        any_json().prop_map(Some),
    ];
    let id = prop_oneof![
        Just(None),
        any::<u32>().prop_map(|id| Some(Value::from(id))),
        ".{0,10}".prop_map(|id| Some(Value::from(id))),
        Just(Some(Value::Null)),
        any_json().prop_map(Some),
    ];
    let version = prop_oneof![
        4 => Just(Some(json!("2.0"))),
        1 => any_json().prop_map(Some),
        1 => Just(None),
    ];
    (method, params, id, version).prop_map(|(method, params, id, version)| {
        let mut request = Map::new();
        request.insert("method".to_owned(), method);
        for (key, value) in [("params", params), ("id", id), ("jsonrpc", version)] {
            if let Some(value) = value {
                request.insert(key.to_owned(), value);
            }
        }
        Value::Object(request)
    })
}

proptest! {
    #[test]
    fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        check(&text, reply(&text))?;
    }

    #[test]
    fn any_json_value(value in any_json()) {
        let text = value.to_string();
        check(&text, reply(&text))?;
    }

    #[test]
    fn requests(request in request()) {
        let text = request.to_string();
        check(&text, reply(&text))?;
    }

    #[test]
    fn batches(calls in prop::collection::vec(request(), 0..12)) {
        let text = Value::from(calls).to_string();
        check(&text, reply(&text))?;
    }

    /// Batches that create agents and list them, so that the answers pass the limit.
    #[test]
    fn batches_past_the_answers_limit(names in prop::collection::vec("[a-z]{1,12}", 1..8)) {
        let mut calls: Vec<Value> = names
            .iter()
            .enumerate()
            .map(|(id, name)| json!({
                "jsonrpc": "2.0", "id": id, "method": "create",
                "params": { "name": name, "kind": "counter" },
            }))
            .collect();
        calls.push(json!({ "jsonrpc": "2.0", "id": "list", "method": "list" }));
        let text = Value::from(calls).to_string();
        check(&text, reply(&text))?;
    }
}
