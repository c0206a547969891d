//! One WebSocket connection: its frames read in order, each answered before the next is read,
//! with the events it subscribed to sent in between, under the limits of its [`Limits`].

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use plan_state::store::Store;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::Instrument;

use super::answer::{self, Batch};
use super::deadline::Deadline;
use super::limits::Limits;
use super::methods::{self, Api};
use super::rpc::{self, RpcError};
use super::subscription::Subscriptions;
use crate::echo;

/// Serves one connection until the client closes it, breaks a rule of the transport (a frame
/// over the limit or late, a broken frame), stops reading, or stays idle too long.
pub(super) async fn serve<S, T>(
    mut socket: WebSocketStream<Deadline<T>>,
    api: Api<S>,
    limits: Limits,
) where
    S: Store + 'static,
    T: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!("connection opened");
    let mut subscriptions = Subscriptions::default();
    let idle = sleep(limits.idle_timeout);
    tokio::pin!(idle);
    loop {
        let reply = tokio::select! {
            frame = socket.next() => {
                idle.as_mut().reset(Instant::now() + limits.idle_timeout);
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        handle(&api, &mut subscriptions, text.as_str(), &limits).await
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let why = "binary frames are not read: send each request as a text frame";
                        let error = rpc::response(Value::Null, Err(RpcError::invalid_request(why)));
                        Some(error.to_string())
                    }
                    // The WebSocket layer answers pings itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => None,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(error)) => {
                        refuse(&mut socket, error, &limits).await;
                        break;
                    }
                }
            },
            notification = subscriptions.next() => Some(notification.to_string()),
            () = &mut idle, if subscriptions.is_empty() => {
                tracing::debug!("closing an idle connection");
                let why = format!(
                    "idle for {} with no subscription (`Control::idle_timeout`)",
                    seconds(limits.idle_timeout)
                );
                close(&mut socket, CloseCode::Normal, why, limits.frame_timeout).await;
                break;
            }
        };
        if let Some(reply) = reply {
            // A client that stops reading fills the socket's buffers: it gets the frame's time
            // to make room, then the connection is dropped.
            match timeout(limits.frame_timeout, socket.send(Message::text(reply))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::debug!("dropping a connection that does not read");
                    break;
                }
            }
        }
    }
    tracing::debug!("connection closed");
}

/// The reply to a text frame: a response, an array of them for a batch, or nothing (for
/// notifications only), within [`Limits::max_batch`] and [`Limits::max_response`]. The frame
/// is within [`Limits::max_request`]: the transport does not read longer ones.
pub(super) async fn handle<S: Store + 'static>(
    api: &Api<S>,
    subscriptions: &mut Subscriptions,
    text: &str,
    limits: &Limits,
) -> Option<String> {
    let fail = |error| Some(rpc::response(Value::Null, Err(error)).to_string());
    let value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return fail(RpcError::parse(&e)),
    };
    match value {
        Value::Array(calls) if calls.is_empty() => fail(RpcError::invalid_request(
            "an empty batch: a batch holds at least one request",
        )),
        Value::Array(calls) if calls.len() > limits.max_batch => {
            let why = format!(
                "a batch of {} calls is over this server's limit of {} (`Control::max_batch`): none was run",
                calls.len(),
                limits.max_batch
            );
            fail(RpcError::invalid_request(why))
        }
        // In order, like single requests, so that a batch's calls see each other's effects.
        Value::Array(calls) => {
            let mut batch = Batch::new(limits.max_response);
            for call in calls {
                if batch.is_full() {
                    if let Some(response) = not_run(call, limits.max_response) {
                        batch.push_error(response);
                    }
                } else if let Some(response) = one(api, subscriptions, call).await {
                    batch.push(response);
                }
            }
            batch.finish()
        }
        value => one(api, subscriptions, value)
            .await
            .map(|response| answer::single(response, limits.max_response)),
    }
}

/// The answer to a call of a batch that is not run: its `not_run` error, its invalid-request
/// error if it is not a request, or none for a notification.
fn not_run(call: Value, limit: usize) -> Option<Value> {
    match rpc::read(call) {
        Ok(call) => call
            .id
            .map(|id| rpc::response(id, Err(RpcError::not_run(limit)))),
        Err((id, error)) => Some(rpc::response(id, Err(error))),
    }
}

/// The response to one request object, or none for a notification.
async fn one<S: Store + 'static>(
    api: &Api<S>,
    subscriptions: &mut Subscriptions,
    request: Value,
) -> Option<Value> {
    let call = match rpc::read(request) {
        Ok(call) => call,
        Err((id, error)) => {
            tracing::debug!(error = error.message, "invalid request");
            return Some(rpc::response(id, Err(error)));
        }
    };
    // Both come from the client: a span holds at most a short start of each.
    let id = call
        .id
        .as_ref()
        .map(|id| tracing::field::display(echo::name(&id.to_string())));
    let span = tracing::info_span!("request", method = echo::name(&call.method), id);
    let method = call.method;
    // Nothing should panic; if something does, the connection answers and goes on.
    let outcome = AssertUnwindSafe(methods::call(api, subscriptions, &method, call.params))
        .catch_unwind()
        .instrument(span.clone())
        .await
        .unwrap_or_else(|_| {
            let why = format!("the server failed: `{}` panicked", echo::name(&method));
            span.in_scope(|| tracing::error!("{why}"));
            Err(RpcError::internal(why))
        });
    if let Err(error) = &outcome {
        span.in_scope(|| tracing::debug!(code = error.code, error = error.message, "failed"));
    }
    call.id.map(|id| rpc::response(id, outcome))
}

/// Closes a connection whose frame could not be read, saying why: one over the size limit
/// (1009), one not finished in time (1008), a broken one (1002). The frame cannot be skipped:
/// the stream is not at a frame's start.
async fn refuse<T: AsyncRead + AsyncWrite + Unpin>(
    socket: &mut WebSocketStream<Deadline<T>>,
    error: WsError,
    limits: &Limits,
) {
    tracing::debug!(%error, "closing on a frame that cannot be read");
    let (code, why) = match &error {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
            CloseCode::Size,
            format!(
                "a frame of {size} bytes is over this server's limit of {max_size} (`Control::max_request`)"
            ),
        ),
        WsError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => (
            CloseCode::Policy,
            format!(
                "a frame not finished within {} (`Control::frame_timeout`)",
                seconds(limits.frame_timeout)
            ),
        ),
        // The peer is gone: nobody to tell.
        WsError::Io(_) | WsError::ConnectionClosed | WsError::AlreadyClosed => return,
        error => (CloseCode::Protocol, error.to_string()),
    };
    close(socket, code, why, limits.frame_timeout).await;
}

/// Sends a close frame with `code` and the reason, waiting at most `limit` for a client that
/// does not read. The connection ends either way.
async fn close<T: AsyncRead + AsyncWrite + Unpin>(
    socket: &mut WebSocketStream<Deadline<T>>,
    code: CloseCode,
    mut reason: String,
    limit: Duration,
) {
    // A close frame's reason is at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    let close = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = timeout(limit, socket.send(Message::Close(Some(close)))).await;
}

/// A duration as people write it in seconds: `30 s`, `0.5 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}
