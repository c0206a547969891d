//! The JSON-RPC 2.0 envelope: calls read from a request object, responses, notifications and
//! error objects with the specification's codes.

use std::fmt;

use serde_json::{Map, Value, json};

use crate::echo;

/// The request was not JSON.
pub(super) const PARSE_ERROR: i64 = -32700;
/// The JSON was not a request.
pub(super) const INVALID_REQUEST: i64 = -32600;
/// No method of that name.
pub(super) const METHOD_NOT_FOUND: i64 = -32601;
/// The params are not what the method takes.
pub(super) const INVALID_PARAMS: i64 = -32602;
/// The server failed (a method panicked).
pub(super) const INTERNAL_ERROR: i64 = -32603;

/// An answer was over [`Control::max_response`](super::Control::max_response): the call ran,
/// but its answer is not sent.
pub(super) const TOO_LARGE: i64 = -32020;
/// A call of a batch was not run: the batch's answers had reached the limit.
pub(super) const NOT_RUN: i64 = -32021;

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl fmt::Display) -> Self {
        RpcError {
            code,
            message: message.to_string(),
            data: None,
        }
    }

    pub fn parse(error: &serde_json::Error) -> Self {
        RpcError::new(PARSE_ERROR, format_args!("not JSON: {error}"))
    }

    pub fn invalid_request(why: impl fmt::Display) -> Self {
        RpcError::new(INVALID_REQUEST, why)
    }

    /// `method`'s params are not what it takes. Both parts may quote what the client sent
    /// (serde names an unknown field), so each is cut short if long.
    pub fn invalid_params(method: &str, why: impl fmt::Display) -> Self {
        RpcError::new(
            INVALID_PARAMS,
            format_args!(
                "invalid params for `{}`: {}",
                echo::name(method),
                echo::reason(&why.to_string())
            ),
        )
    }

    pub fn internal(why: impl fmt::Display) -> Self {
        RpcError::new(INTERNAL_ERROR, why)
    }

    /// An answer withheld for being over `limit` bytes; `in_batch` if the answers before it
    /// in its batch count too.
    pub fn too_large(limit: usize, in_batch: bool) -> Self {
        let what = if in_batch {
            "this call ran, but its answer would take the batch's answers"
        } else {
            "this call ran, but its answer is"
        };
        RpcError::new(
            TOO_LARGE,
            format_args!(
                "{what} over this server's limit of {limit} bytes (`Control::max_response`)"
            ),
        )
        .kind("too_large")
    }

    /// A call of a batch not run, its answers having reached `limit` bytes.
    pub fn not_run(limit: usize) -> Self {
        RpcError::new(
            NOT_RUN,
            format_args!(
                "not run: the batch's answers reached this server's limit of {limit} bytes \
                 (`Control::max_response`); send it again on its own or in a smaller batch"
            ),
        )
        .kind("not_run")
    }

    /// With `{"kind": kind}` as its data.
    fn kind(mut self, kind: &str) -> Self {
        self.data = Some(json!({ "kind": kind }));
        self
    }

    fn into_value(self) -> Value {
        let mut error = Map::new();
        error.insert("code".to_owned(), self.code.into());
        error.insert("message".to_owned(), self.message.into());
        if let Some(data) = self.data {
            error.insert("data".to_owned(), data);
        }
        Value::Object(error)
    }
}

/// One call from a request object: a request if it has an id, else a notification, which
/// gets no response whatever happens.
#[derive(Debug)]
pub(super) struct Call {
    pub id: Option<Value>,
    pub method: String,
    pub params: Option<Value>,
}

/// Reads a request object; an error comes with the id to answer it with (the request's own
/// when it has a valid one, else null).
pub(super) fn read(value: Value) -> Result<Call, (Value, RpcError)> {
    let Value::Object(mut object) = value else {
        return Err((
            Value::Null,
            RpcError::invalid_request("a request is an object"),
        ));
    };
    let id = match object.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => Some(id),
        Some(_) => {
            let why = "a request's `id` is a string, a number or null";
            return Err((Value::Null, RpcError::invalid_request(why)));
        }
    };
    let fail = |why: &str| {
        Err((
            id.clone().unwrap_or(Value::Null),
            RpcError::invalid_request(why),
        ))
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return fail("a request has `\"jsonrpc\": \"2.0\"`");
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        _ => return fail("a request's `method` is a string"),
    };
    let params = match object.remove("params") {
        params @ (None | Some(Value::Object(_) | Value::Array(_))) => params,
        Some(_) => return fail("a request's `params`, if any, are an object or an array"),
    };
    Ok(Call { id, method, params })
}

/// The response to the request with `id`.
pub(super) fn response(id: Value, outcome: Result<Value, RpcError>) -> Value {
    let mut response = Map::new();
    response.insert("jsonrpc".to_owned(), json!("2.0"));
    match outcome {
        Ok(result) => response.insert("result".to_owned(), result),
        Err(error) => response.insert("error".to_owned(), error.into_value()),
    };
    response.insert("id".to_owned(), id);
    Value::Object(response)
}

/// A notification from the server: `method` with `params`.
pub(super) fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}
