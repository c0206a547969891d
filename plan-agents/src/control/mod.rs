//! The control API: [`Agents`] over a WebSocket at `/rpc`, speaking
//! [JSON-RPC 2.0](https://www.jsonrpc.org/specification) (feature `control`).
//!
//! [`router`] gives an axum [`Router`] to serve or merge into an app; [`Control`] sets the
//! size limit and serves it on a listener itself.
//!
//! Params are by name (an object; methods without required ones may leave them out), and
//! unknown fields are refused. Times are milliseconds since the Unix epoch.
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `create` | `name`, `kind`, `state`? (else the kind's default) | [`AgentStatus`] |
//! | `schedule` | `agent`, `task` (its name), `input`? (`null`), `priority`? (0) | `{"id"}` |
//! | `mail` | `agent`, `message` (any JSON), `priority`? (0) | `{"id"}` |
//! | `sleep` | `agent`, `for_ms`?, `until_ms`?, `events`? (`[]`), `mail`? (the least priority that wakes it); none: until woken | [`AgentStatus`] |
//! | `wake` | `agent` | `{"woke"}`: whether it was sleeping |
//! | `signal` | `event` | `{"woken"}`: how many agents |
//! | `every` | `agent`, one of `every_ms` and `cron`, `task`, `input`?, `priority`? | `{"next_at_ms"}` (`null`: never) |
//! | `stop` | `agent` | [`AgentStatus`] |
//! | `status` | `agent` | [`AgentStatus`] |
//! | `state` | `agent` | the agent's state |
//! | `list` | | [`Snapshot`] |
//! | `dead_tasks` | `agent` | [`[DeadTask]`](DeadTask) |
//! | `replay_dead_tasks` | `agent` | `{"replayed"}`: how many |
//! | `subscribe` | `agent`? (else all) | `{"subscribed": true}`; then notifications |
//! | `unsubscribe` | | `{"unsubscribed"}`: whether it was subscribed |
//!
//! After `subscribe`, the connection gets each [`Event`] (of the agent, if one was named) as
//! a notification `{"jsonrpc": "2.0", "method": "event", "params": EVENT}`, between
//! responses. Its buffer is that of [`Agents::events`]: a connection that falls more than
//! 1,024 events behind gets `{"method": "lagged", "params": {"missed": N}}` and carries on
//! from there. Subscribing again replaces the subscription.
//!
//! # Errors
//!
//! | code | when | `data` |
//! | --- | --- | --- |
//! | -32700 | not JSON (the id is null) | |
//! | -32600 | not a request object, `jsonrpc` not `"2.0"`, `method` not a string, `id` not a string, number or null, `params` not structured, an empty batch, a binary frame, a text frame over the limit | |
//! | -32601 | no such method (the message lists them) | |
//! | -32602 | params not an object, or not what the method takes (the message names the field) | |
//! | -32603 | the server failed (a method panicked) | |
//! | -32001 … -32012 | the [`SessionError`](crate::session::SessionError)s: `no_agent`, `exists`, `no_kind`, `stopped`, `queue_full`, `bad_state`, `bad_mail`, `bad_name`, `store`, `concurrent`, `shut_down`, `corrupt` | `{"kind", "agent"?}` |
//! | -32000 | any other session error | `{"kind": "session"}` |
//!
//! An application error's message is the error's own. An invalid request is answered with its
//! id when that is valid, else with null; a notification (a request without an id) is never
//! answered, even if it fails.
//!
//! # Connections
//!
//! A connection's requests are handled one at a time, in the order they come (a batch's in
//! its order), and each is answered before the next is read: a client may send `mail` and
//! `status` at once and the status shows the mail. Clients that want requests to overlap open
//! more connections; every method returns without waiting for tasks to run.
//!
//! A text frame longer than [`Control::max_request`] (1 MiB by default) gets a -32600 error
//! and the connection goes on; so does a binary frame. A frame more than four times the
//! limit is not read at all: the connection is closed with code 1008 and the reason. Nothing
//! a client sends stops the server. Each connection and each request has a tracing span
//! (`control` with the connection's number; `request` with `method` and `id`).
//!
//! ```
//! use std::sync::Arc;
//! use futures::{SinkExt, StreamExt};
//! use plan_agents::control::Control;
//! use plan_agents::session::{Agents, Turn};
//! use plan_runtime::prelude::*;
//! use plan_state::store::InMemory;
//! use serde_json::{Value, json};
//! use tokio_tungstenite::tungstenite::Message;
//!
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct Count { n: u32 }
//!
//! async fn count(mut turn: Turn<Count>) -> Turn<Count> {
//!     turn.state.n += 1;
//!     turn
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let agents = Agents::builder(Arc::new(InMemory::new()))
//!     .kind("counter", plan! { count })
//!     .start()
//!     .await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/rpc", listener.local_addr()?);
//! tokio::spawn(Control::new(agents).serve(listener));
//!
//! let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
//! let create = json!({
//!     "jsonrpc": "2.0", "id": 1, "method": "create",
//!     "params": { "name": "ada", "kind": "counter" },
//! });
//! socket.send(Message::text(create.to_string())).await?;
//! let Some(Ok(Message::Text(reply))) = socket.next().await else { panic!("no reply") };
//! let reply: Value = serde_json::from_str(&reply)?;
//! assert_eq!(reply["result"]["state"], "idle");
//!
//! socket.send(Message::text(r#"{"jsonrpc": "2.0", "id": 2, "method": "wake"}"#)).await?;
//! let Some(Ok(Message::Text(reply))) = socket.next().await else { panic!("no reply") };
//! assert_eq!(
//!     serde_json::from_str::<Value>(&reply)?,
//!     json!({
//!         "jsonrpc": "2.0", "id": 2,
//!         "error": { "code": -32602, "message": "invalid params for `wake`: missing field `agent`" },
//!     })
//! );
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod connection;
mod error;
mod methods;
mod rpc;
mod subscription;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use plan_state::store::Store;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::session::Agents;
#[cfg(doc)]
use crate::session::{AgentStatus, DeadTask, Event, Snapshot};

/// The control API of some agents, to serve: [`Control::router`] or [`Control::serve`].
pub struct Control<S> {
    agents: Agents<S>,
    max_request: usize,
}

/// The control API of `agents` with the default limits, as an axum [`Router`] serving the
/// WebSocket at `/rpc`.
pub fn router<S: Store + 'static>(agents: Agents<S>) -> Router {
    Control::new(agents).router()
}

impl<S: Store + 'static> Control<S> {
    /// The control API of `agents`, with requests of up to 1 MiB.
    pub fn new(agents: Agents<S>) -> Self {
        Control {
            agents,
            max_request: 1 << 20,
        }
    }

    /// With requests (text frames) of up to `bytes`; a longer one gets an error, and one over
    /// four times as long closes its connection.
    pub fn max_request(mut self, bytes: usize) -> Self {
        self.max_request = bytes;
        self
    }

    /// An axum [`Router`] serving the WebSocket at `/rpc`.
    pub fn router(self) -> Router {
        let shared = Arc::new(Shared {
            agents: self.agents,
            max_request: self.max_request,
            connections: AtomicU64::new(0),
        });
        Router::new()
            .route("/rpc", get(upgrade::<S>))
            .with_state(shared)
    }

    /// Serves the control API on `listener` until the listener fails.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}

/// What every connection shares.
struct Shared<S> {
    agents: Agents<S>,
    max_request: usize,
    /// Connections so far, to number each one's span.
    connections: AtomicU64,
}

/// `GET /rpc`: upgrades to a WebSocket and serves it.
async fn upgrade<S: Store + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let number = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
    // Frames up to four times the limit are read and answered with an error; larger ones
    // are refused before they are buffered.
    let most = shared.max_request.saturating_mul(4);
    upgrade
        .max_message_size(most)
        .max_frame_size(most)
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("control", connection = number);
            connection::serve(socket, shared.agents.clone(), shared.max_request).instrument(span)
        })
}
