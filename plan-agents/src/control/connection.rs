//! One WebSocket connection: its frames read in order, each answered before the next is read,
//! with the events it subscribed to sent in between.

use std::future::pending;
use std::panic::AssertUnwindSafe;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures::FutureExt;
use plan_state::store::Store;
use serde_json::Value;
use tracing::Instrument;

use super::methods;
use super::rpc::{self, RpcError};
use super::subscription::Subscription;
use crate::session::Agents;

/// Serves one connection until the client closes it, or sends what is not a WebSocket frame
/// of at most the transport's limit.
pub(super) async fn serve<S: Store + 'static>(
    mut socket: WebSocket,
    agents: Agents<S>,
    max_request: usize,
) {
    tracing::debug!("connection opened");
    let mut subscription = None;
    loop {
        let reply = tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    handle(&agents, &mut subscription, text.as_str(), max_request).await
                }
                Some(Ok(Message::Binary(_))) => {
                    let why = "binary frames are not read: send each request as a text frame";
                    Some(rpc::response(Value::Null, Err(RpcError::invalid_request(why))))
                }
                // The WebSocket layer answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(error)) => {
                    refuse(&mut socket, error).await;
                    break;
                }
            },
            notification = next_event(&mut subscription) => {
                if notification.is_none() {
                    subscription = None;
                }
                notification
            }
        };
        if let Some(reply) = reply
            && socket
                .send(Message::Text(reply.to_string().into()))
                .await
                .is_err()
        {
            break;
        }
    }
    tracing::debug!("connection closed");
}

/// The next event notification, if the connection subscribed; `None` once there are none.
async fn next_event(subscription: &mut Option<Subscription>) -> Option<Value> {
    match subscription {
        Some(subscription) => subscription.next().await,
        None => pending().await,
    }
}

/// The reply to a text frame: a response, an array of them for a batch, or nothing (for
/// notifications only).
async fn handle<S: Store + 'static>(
    agents: &Agents<S>,
    subscription: &mut Option<Subscription>,
    text: &str,
    max_request: usize,
) -> Option<Value> {
    if text.len() > max_request {
        let why = format!(
            "a request of {} bytes is over this server's limit of {max_request} bytes",
            text.len()
        );
        return Some(rpc::response(
            Value::Null,
            Err(RpcError::invalid_request(why)),
        ));
    }
    let value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return Some(rpc::response(Value::Null, Err(RpcError::parse(&e)))),
    };
    match value {
        Value::Array(calls) if calls.is_empty() => {
            let why = "an empty batch: a batch holds at least one request";
            Some(rpc::response(
                Value::Null,
                Err(RpcError::invalid_request(why)),
            ))
        }
        // In order, like single requests, so that a batch's calls see each other's effects.
        Value::Array(calls) => {
            let mut responses = Vec::new();
            for call in calls {
                responses.extend(one(agents, subscription, call).await);
            }
            (!responses.is_empty()).then_some(Value::Array(responses))
        }
        value => one(agents, subscription, value).await,
    }
}

/// The response to one request object, or none for a notification.
async fn one<S: Store + 'static>(
    agents: &Agents<S>,
    subscription: &mut Option<Subscription>,
    request: Value,
) -> Option<Value> {
    let call = match rpc::read(request) {
        Ok(call) => call,
        Err((id, error)) => {
            tracing::debug!(error = error.message, "invalid request");
            return Some(rpc::response(id, Err(error)));
        }
    };
    let id = call
        .id
        .as_ref()
        .map(|id| tracing::field::display(id.clone()));
    let span = tracing::info_span!("request", method = call.method, id);
    let method = call.method;
    // Nothing should panic; if something does, the connection answers and goes on.
    let outcome = AssertUnwindSafe(methods::call(agents, subscription, &method, call.params))
        .catch_unwind()
        .instrument(span.clone())
        .await
        .unwrap_or_else(|_| {
            let why = format!("the server failed: `{method}` panicked");
            span.in_scope(|| tracing::error!("{why}"));
            Err(RpcError::internal(why))
        });
    if let Err(error) = &outcome {
        span.in_scope(|| tracing::debug!(code = error.code, error = error.message, "failed"));
    }
    call.id.map(|id| rpc::response(id, outcome))
}

/// Closes a connection whose frame could not be read (one over the size limit, a broken
/// one), with the reason. The frame cannot be skipped: the stream is not at a frame's start.
async fn refuse(socket: &mut WebSocket, error: axum::Error) {
    tracing::debug!(%error, "closing on a frame that cannot be read");
    let mut reason = error.to_string();
    // A close frame's reason is at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    let close = CloseFrame {
        code: close_code::POLICY,
        reason: reason.into(),
    };
    // The connection ends either way; a client already gone just does not hear why.
    let _ = socket.send(Message::Close(Some(close))).await;
}
