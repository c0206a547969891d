//! The control API: [`Agents`] over a WebSocket at `/rpc`, speaking
//! [JSON-RPC 2.0](https://www.jsonrpc.org/specification) (feature `control`).
//!
//! [`Control`] takes the agents and the [`Token`] that admits a client, sets the limits, and
//! gives an axum [`Router`] to serve or merge into an app ([`Control::router`]), or serves it
//! on a listener itself ([`Control::serve`]). See "Security" below.
//!
//! Params are by name (an object; methods without required ones may leave them out), and
//! unknown fields are refused. Times are milliseconds since the Unix epoch.
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `create` | `name`, `kind`, `state`? (else the kind's default) | [`AgentStatus`] |
//! | `schedule` | `agent`, `task` (its name), `input`? (`null`), `priority`? (0), `ttl_ms`? (its time to live) | `{"id"}` |
//! | `mail` | `agent`, `message` (any JSON), `priority`? (0) | `{"id"}` |
//! | `sleep` | `agent`, `for_ms`?, `until_ms`?, `events`? (`[]`), `mail`? (the least priority that wakes it), `room`? (wake once fewer tasks run); none: until woken | [`AgentStatus`] |
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
//! | `runs` | | `{"runs": [SUMMARY]}`: the [`RunBoard`]'s runs, oldest first (`id`, `name`, `status`, `started_ms`, `wall_us`, counts of node instances) |
//! | `run` | `run` (its id) | `{"run": SUMMARY, "graph", "report", "critical", "totals", "deadlines", "budget", "question"}`: the plan's graph, the [`RunReport`](plan_runtime::report::RunReport) so far (its nodes' `notes` say how their policies resolved), the ids of its critical path, its counters summed, the instances whose deadline passed (id: `after_us`), what its budget spent of each limit (`{"tokens": {"spent", "limit"}, "dollars": …, "requests": …, "renews_every_ms"}`, [`Watch::budget`]) or null, and what it asks ([`Watch::ask`]) or null |
//! | `answer` | `run`, `answer` (an object of the question's [`Form`]) | `{"answered": true}` |
//! | `subscribe_runs` | `run`? (else all) | `{"subscribed": true}`; then notifications |
//! | `unsubscribe_runs` | | `{"unsubscribed"}`: whether it was subscribed |
//!
//! After `subscribe`, the connection gets each [`AgentEvent`] (of the agent, if one was named) as
//! a notification `{"jsonrpc": "2.0", "method": "event", "params": EVENT}`, between
//! responses. Its buffer is that of [`Agents::events`]: a connection that falls more than
//! 1,024 events behind gets `{"method": "lagged", "params": {"missed": N}}` and carries on
//! from there. Subscribing again replaces the subscription.
//!
//! After `subscribe_runs`, it gets each event of the runs (of the run, if one was named) as
//! `{"method": "run_event", "params": EVENT}`: every event a
//! [`Recorder`](plan_runtime::report::Recorder) streams (`"event"`: `started`, `retrying`,
//! `finished` with its outcome), with `"run"`; and `waited` (`id`, `on`, `us`), `count` (`id`,
//! `counter`, `amount`), `note` (`id`, `key`, `value`: a policy's `ranks` or `outcomes`),
//! `deadline` (`id`, `after_us`), `budget` (what the run's budget has spent of each limit, as
//! `run`'s detail has it: [`Watch::budget`]), `question` and `answered` (`node`), and `run` (a
//! new run: `name`). The same buffer: more than 1,024 behind, it gets
//! `{"method": "lagged", "params": {"missed": N, "of": "runs"}}`.
//!
//! # The studio
//!
//! `GET /?token=TOKEN` is a web page of the agents and the runs, live, over this API (plain
//! HTML, CSS and JavaScript, embedded); `GET /runs/ID/report.json` and `/runs/ID/trace.json` (with the token) download
//! a run's report and its Chrome trace. Without the token they get HTTP 401, as a handshake
//! does; the page's own script and style (`/studio/…`) hold no data and need none.
//!
//! # Errors
//!
//! | code | when | `data` |
//! | --- | --- | --- |
//! | -32700 | not JSON (the id is null) | |
//! | -32600 | not a request object, `jsonrpc` not `"2.0"`, `method` not a string, `id` not a string, number or null, `params` not structured, an empty batch, a batch over [`Control::max_batch`] (none of its calls runs), a binary frame | |
//! | -32601 | no such method (the message lists them) | |
//! | -32602 | params not an object, or not what the method takes (the message names the field) | |
//! | -32603 | the server failed (a method panicked) | |
//! | -32001 … -32019 | the [`SessionError`](crate::session::SessionError)s: `no_agent`, `exists`, `no_kind`, `stopped`, `queue_full`, `bad_state`, `bad_mail`, `bad_name`, `store`, `concurrent`, `shut_down`, `corrupt`, `too_many_agents`, `kind_full`, `too_frequent`, `too_many_schedules`, `name_too_long` (the limits of [`AgentLimits`](crate::session::AgentLimits)), `owned`, `lost` (agents shared by processes, [`Builder::lease`](crate::session::Builder::lease)) | `{"kind", "agent"?}` |
//! | -32000 | any other session error | `{"kind": "session"}` |
//! | -32020 | the call ran, but its answer is over [`Control::max_response`] (alone, or with the answers before it in its batch) | `{"kind": "too_large"}` |
//! | -32021 | a call of a batch not run: the batch's answers reached [`Control::max_response`] | `{"kind": "not_run"}` |
//! | -32030 … -32032 | the [`AnswerError`]s: `no_run`, `no_question`, `bad_answer` (the message names the field) | `{"kind", "run"}` |
//!
//! An application error's message is the error's own. An invalid request is answered with its
//! id when that is valid, else with null; a notification (a request without an id) is never
//! answered, even if it fails.
//!
//! # Connections
//!
//! A connection's requests are handled one at a time, in the order they come (a batch's in
//! its order), and each is answered before the next is read: a client may send `mail` and
//! `status` at once and the status shows the mail. So a connection has one request (or batch)
//! in flight at most; clients that want requests to overlap open more connections (up to
//! [`Control::max_connections`]); every method returns without waiting for tasks to run.
//! Each connection and each request has a tracing span (`control` with the connection's
//! number; `request` with `method` and `id`).
//!
//! # Security
//!
//! Whoever holds the [`Token`] controls the agents: creates, stops, reads their state. It is
//! the only authentication. Every handshake shows it, as `Authorization: Bearer TOKEN` (the
//! scheme in any case) or, for browsers, which cannot set headers on a WebSocket, as
//! `?token=TOKEN`; without it, or with another, the handshake gets HTTP 401 (with
//! `WWW-Authenticate: Bearer`) and no upgrade. The token is compared in constant time and
//! appears in no log, span, error or `Debug`. Over `ws://` it travels in clear: serve on
//! loopback (`127.0.0.1`), and put anything reachable from elsewhere behind a reverse proxy
//! with TLS (`wss://`). The query form ends up in proxies' access logs: prefer the header
//! where the client can send one.
//!
//! A web page the user has open can open a WebSocket to any address, with the user's
//! cookies but not the token; a handshake with an `Origin` header (every browser sends one)
//! must come from the server's own origin (`http://` or `https://` and the `Host` it was sent
//! to) or one given to [`Control::allow_origin`], else it gets HTTP 403, whatever its token.
//! A client with no `Origin` (not a browser) is judged by its token alone.
//!
//! Nothing a client sends stops the server or grows its memory without bound; each limit
//! is a builder method:
//!
//! | limit | default | over it |
//! | --- | --- | --- |
//! | [`Control::max_connections`]: WebSocket connections at once | 64 | the handshake gets HTTP 503 |
//! | [`Control::max_request`]: bytes of a frame | 1 MiB | the frame is not read: close code 1009 |
//! | [`Control::max_batch`]: calls in a batch | 64 | one -32600 error, no call run |
//! | [`Control::max_response`]: bytes of an answer | 4 MiB | -32020 for that answer, -32021 for the batch's calls after it |
//! | requests in flight on a connection | 1 | the next frame is read once the last is answered |
//! | [`Control::frame_timeout`]: for a frame to arrive once begun (all its fragments; pings between them do not put it off) | 30 s | close code 1008 |
//! | [`Control::frame_timeout`]: for a frame to be sent (a client that does not read) | 30 s | the connection is dropped |
//! | [`Control::idle_timeout`]: with nothing sent and no subscription | 5 min | close code 1000 |
//! | [`Control::serve`] only: for a handshake's request headers | [`Control::frame_timeout`] | the connection is dropped |
//! | [`Control::serve`] only: connections in their handshake | [`Control::max_connections`] | the connection is closed at once |
//!
//! Each answer is measured as it is serialized and never buffered past the limit; a batch's
//! answer is at most [`Control::max_response`] and a short error for each of its calls not
//! answered. A close frame says why (`a frame of 2000000 bytes is over this server's limit
//! of 1048576`), and every other connection carries on. So the frames a server holds are at
//! most [`Control::max_connections`] × [`Control::max_request`] (64 MiB by default), each for
//! at most [`Control::frame_timeout`]; twice that if every client sends its request in
//! fragments (the fragments that came, and the one being read). A frame being handled takes,
//! parsed, a few times its size, until it is answered. Served with `axum::serve` instead (the
//! [`Control::router`] merged into an app), the handshake's limits are that server's, and
//! `axum::serve` puts no time limit on request headers.
//!
//! The caps hold memory and descriptors bounded at a price: whoever can reach the port can,
//! token or not, take every handshake slot of [`Control::serve`] for up to
//! [`Control::frame_timeout`] at a time, and keep the owner out meanwhile. Another reason to
//! serve on loopback.
//!
//! ```
//! use std::sync::Arc;
//! use futures::{SinkExt, StreamExt};
//! use plan_agents::control::{Control, Token};
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
//! // Loopback: the token travels in clear over `ws://`.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let token = Token::random();
//! let url = format!("ws://{}/rpc?token={}", listener.local_addr()?, token.expose());
//! tokio::spawn(Control::new(agents, token).serve(listener));
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

mod answer;
mod board;
mod connection;
mod critical;
mod deadline;
mod error;
mod form;
#[cfg(test)]
mod fuzz;
mod handshake;
mod limits;
mod methods;
mod rpc;
mod studio;
mod subscription;
mod token;
mod watch;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use plan_state::store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::Instrument;

pub use self::board::RunBoard;
use self::deadline::Deadline;
pub use self::form::Form;
use self::handshake::Refusal;
use self::limits::Limits;
use self::methods::Api;
pub use self::token::{Token, TokenError};
pub use self::watch::{AnswerError, Watch};
use crate::session::Agents;
#[cfg(doc)]
use crate::session::{AgentEvent, AgentStatus, DeadTask, Snapshot};

/// The control API of some agents, for the holder of a [`Token`], with its limits; to serve:
/// [`Control::router`] or [`Control::serve`].
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use plan_agents::control::{Control, Token};
/// use plan_agents::session::Agents;
/// use plan_state::store::InMemory;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
/// let app = Control::new(agents, Token::random())
///     .allow_origin("http://localhost:3000")
///     .max_connections(16)
///     .idle_timeout(Duration::from_secs(60))
///     .router();
/// # let _ = app;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Control<S> {
    agents: Agents<S>,
    runs: RunBoard,
    token: Token,
    origins: Vec<String>,
    limits: Limits,
}

impl<S: Store + 'static> Control<S> {
    /// The control API of `agents`, admitting the clients that show `token`, with the default
    /// limits (see the [module](self)'s "Security").
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let token = Token::from_env("PLAN_CONTROL_TOKEN")?.unwrap_or_else(Token::random);
    /// let control = Control::new(agents, token);
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn new(agents: Agents<S>, token: Token) -> Self {
        Control {
            agents,
            runs: RunBoard::new(),
            token,
            origins: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// Also admits web pages of `origin` (`scheme://host[:port]`, as browsers send it in
    /// `Origin`), besides the server's own.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let control = Control::new(agents, Token::random())
    ///     .allow_origin("http://localhost:3000")
    ///     .allow_origin("https://dashboard.example.com");
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        self.origins.push(origin.trim_end_matches('/').to_owned());
        self
    }

    /// Shows the runs of `board` (its methods `runs`, `run`, `answer`, `subscribe_runs`, the
    /// page's runs and the downloads); without one, an empty board of its own.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, RunBoard, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let board = RunBoard::new();
    /// let control = Control::new(agents, Token::random()).runs(board.clone());
    /// // board.watch("name", &plan) for each run to show.
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn runs(mut self, board: RunBoard) -> Self {
        self.runs = board;
        self
    }

    /// With requests (text frames) of up to `bytes` (1 MiB by default); a longer frame is not
    /// read: its connection is closed with code 1009.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let control = Control::new(agents, Token::random()).max_request(64 * 1024);
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn max_request(mut self, bytes: usize) -> Self {
        self.limits.max_request = bytes;
        self
    }

    /// With batches of up to `calls` calls (64 by default); a larger batch gets one -32600
    /// error and none of its calls runs.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let control = Control::new(agents, Token::random()).max_batch(16);
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn max_batch(mut self, calls: usize) -> Self {
        self.limits.max_batch = calls;
        self
    }

    /// With answers of up to `bytes` (4 MiB by default): a response over it is replaced by a
    /// -32020 error; in a batch, once the answers would pass it, that call's answer is
    /// replaced so, and the calls after it are not run (-32021).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let control = Control::new(agents, Token::random()).max_response(16 << 20);
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.limits.max_response = bytes;
        self
    }

    /// With up to `connections` WebSocket connections at once (64 by default); the handshake
    /// of one more is answered with HTTP 503.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let control = Control::new(agents, Token::random()).max_connections(8);
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections;
        self
    }

    /// With `limit` (30 s by default) for a frame to arrive once its first byte has (a
    /// fragmented one: all its fragments, whatever pings come between), and for one to be
    /// sent; a frame late in coming closes its connection with code 1008, one late
    /// in going (a client that does not read) drops it. [`Control::serve`] gives a handshake's
    /// request headers the same time.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let control = Control::new(agents, Token::random()).frame_timeout(Duration::from_secs(5));
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn frame_timeout(mut self, limit: Duration) -> Self {
        self.limits.frame_timeout = limit;
        self
    }

    /// Closes (code 1000) a connection that has sent nothing for `limit` (5 minutes by
    /// default) while it has no subscription; a subscribed one stays open for its events.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let control = Control::new(agents, Token::random()).idle_timeout(Duration::from_secs(60));
    /// # let _ = control;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn idle_timeout(mut self, limit: Duration) -> Self {
        self.limits.idle_timeout = limit;
        self
    }

    /// An axum [`Router`] serving the WebSocket at `/rpc`, to serve with `axum::serve` or to
    /// merge into an app (its connections need HTTP upgrades, which `axum::serve` allows).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// let app = axum::Router::new()
    ///     .route("/health", axum::routing::get(|| async { "ok" }))
    ///     .merge(Control::new(agents, Token::random()).router());
    /// # let _ = app;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn router(self) -> Router {
        let shared = Arc::new(Shared {
            api: Api {
                agents: self.agents,
                runs: self.runs,
            },
            token: self.token,
            origins: self.origins,
            slots: Arc::new(Semaphore::new(self.limits.max_connections)),
            limits: self.limits,
            connections: AtomicU64::new(0),
        });
        Router::new()
            .route("/rpc", get(upgrade::<S>))
            .route("/", get(studio::page::<S>))
            .route("/studio/studio.js", get(studio::script))
            .route("/studio/studio.css", get(studio::style))
            .route("/runs/{id}/report.json", get(studio::report::<S>))
            .route("/runs/{id}/trace.json", get(studio::trace::<S>))
            .with_state(shared)
    }

    /// Serves the control API on `listener`, for as long as the returned future is polled.
    ///
    /// Unlike `axum::serve`, it gives each connection's request headers at most
    /// [`Control::frame_timeout`] to arrive, and holds at most [`Control::max_connections`] connections still in their handshake:
    /// one more is closed at once. A failure to accept (too many open files) is retried after
    /// a second.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use plan_agents::control::{Control, Token};
    /// # use plan_agents::session::Agents;
    /// # use plan_state::store::InMemory;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let agents: Agents<InMemory> = Agents::builder(Arc::new(InMemory::new())).start().await?;
    /// // Loopback only: off the machine, a reverse proxy with TLS.
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let token = Token::random();
    /// println!("control: ws://{}/rpc?token={}", listener.local_addr()?, token.expose());
    /// tokio::spawn(Control::new(agents, token).serve(listener));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        let handshake_time = self.limits.frame_timeout;
        let handshakes = Arc::new(Semaphore::new(self.limits.max_connections));
        let router = self.router();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "control: cannot accept a connection; trying again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                tracing::debug!("control: closing a connection over the handshakes' limit");
                continue;
            };
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(handshake_time);
                // A connection that fails its handshake has had its answer, if it can get one.
                let _ = http
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
                drop(permit);
            });
        }
    }
}

/// What every connection shares.
struct Shared<S> {
    api: Api<S>,
    token: Token,
    origins: Vec<String>,
    limits: Limits,
    /// A permit for each WebSocket connection open.
    slots: Arc<Semaphore>,
    /// Connections so far, to number each one's span.
    connections: AtomicU64,
}

/// `GET /rpc`: admits the client, upgrades to a WebSocket and serves it.
async fn upgrade<S: Store + 'static>(
    State(shared): State<Arc<Shared<S>>>,
    mut request: Request,
) -> Response {
    if let Err(refusal) = handshake::admit(
        &shared.token,
        &shared.origins,
        request.headers(),
        request.uri(),
    ) {
        return refusal.into_response();
    }
    let accept = match handshake::accept_key(request.headers()) {
        Ok(accept) => accept,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
        let why = format!(
            "the control API has its {} connections open (`Control::max_connections`): try again later",
            shared.limits.max_connections
        );
        return Refusal::new(StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    };
    let Some(upgrading) = request.extensions_mut().remove::<OnUpgrade>() else {
        let why = "this HTTP server does not upgrade connections: serve the control API with \
                   `Control::serve` or `axum::serve`";
        return Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, why).into_response();
    };
    let number = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
    let span = tracing::info_span!("control", connection = number);
    tokio::spawn(
        async move {
            let Ok(upgraded) = upgrading.await else {
                tracing::debug!("the upgrade failed");
                return;
            };
            let limits = shared.limits;
            let io = Deadline::new(TokioIo::new(upgraded), limits.frame_timeout);
            // Frames over the limit are refused as their header is read, before any of them
            // is buffered.
            let config = WebSocketConfig::default()
                .max_message_size(Some(limits.max_request))
                .max_frame_size(Some(limits.max_request));
            let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
            connection::serve(socket, shared.api.clone(), limits).await;
            drop(slot);
        }
        .instrument(span),
    );
    handshake::switching(accept)
}
