//! The control API over real WebSockets on 127.0.0.1, with a real client: every method and
//! its effect on the agents, JSON-RPC's errors for everything malformed, batches and
//! notifications, frames that are binary or too long, event subscriptions, the runs of a
//! board (listed, shown, streamed, answered), and two clients at once. Real sockets need the
//! real clock: waits for tasks (of 0 ms) poll `status`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use plan_agents::control::{Control, Form, RunBoard, Token};
use plan_agents::session::{AgentLimits, Agents, Turn};
use plan_runtime::prelude::*;
use plan_state::store::InMemory;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long anything that must happen may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

/// A counter's state: how many tasks it finished.
#[derive(Default, Serialize, Deserialize)]
struct Count {
    n: u32,
}

/// A task: counts one, or fails when its input says `"fail": true`.
async fn count(mut turn: Turn<Count>) -> Result<Turn<Count>, std::io::Error> {
    if turn.task.input["fail"] == json!(true) {
        return Err(std::io::Error::other("told to fail"));
    }
    turn.state.n += 1;
    turn.output = json!({ "n": turn.state.n });
    Ok(turn)
}

/// A state whose default panics, so that creating an agent of its kind panics in the server.
#[derive(Serialize, Deserialize)]
struct Broken {}

impl Default for Broken {
    fn default() -> Self {
        panic!("a state with no default")
    }
}

async fn idle(turn: Turn<Broken>) -> Turn<Broken> {
    turn
}

/// Serves agents of kinds `counter` and `broken` (queues of 4, one attempt per task) with
/// requests of up to `max_request` bytes; returns the endpoint's URL, with its token.
async fn server(max_request: usize) -> String {
    server_with(|control| control.max_request(max_request)).await
}

/// Serves agents as [`server`] does, with the limits `configure` sets.
async fn server_with(configure: impl FnOnce(Control<InMemory>) -> Control<InMemory>) -> String {
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("counter", plan! { count })
        .kind("broken", plan! { idle })
        .limits(AgentLimits {
            queue: 4,
            max_attempts: 1,
            // Schedules every few ms, so that a test sees several runs soon.
            min_period: Duration::from_millis(1),
            ..AgentLimits::default()
        })
        .start()
        .await
        .unwrap();
    serve(agents, configure).await
}

/// Serves `agents`' control API, as `configure` sets it, on a free port of 127.0.0.1; returns
/// its URL, with its token.
async fn serve(
    agents: Agents<InMemory>,
    configure: impl FnOnce(Control<InMemory>) -> Control<InMemory>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token = Token::random();
    let url = format!(
        "ws://{}/rpc?token={}",
        listener.local_addr().unwrap(),
        token.expose()
    );
    tokio::spawn(configure(Control::new(agents, token)).serve(listener));
    url
}

/// A WebSocket client that keeps the server's notifications apart from its responses.
struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    notifications: VecDeque<Value>,
    next_id: u64,
}

impl Client {
    async fn connect(url: &str) -> Self {
        let (socket, _) = connect_async(url).await.unwrap();
        Client {
            socket,
            notifications: VecDeque::new(),
            next_id: 1,
        }
    }

    async fn send(&mut self, message: Message) {
        self.socket.send(message).await.unwrap();
    }

    /// The next frame, which must come.
    async fn frame(&mut self) -> Message {
        timeout(PATIENCE, self.socket.next())
            .await
            .expect("no frame in time")
            .expect("the connection ended")
            .expect("a broken frame")
    }

    /// The next text frame that is not a notification, as JSON.
    async fn reply(&mut self) -> Value {
        loop {
            let frame = self.frame().await;
            let Message::Text(text) = frame else {
                panic!("not a text frame: {frame:?}");
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value.get("method").is_some() {
                self.notifications.push_back(value);
            } else {
                return value;
            }
        }
    }

    /// The next notification from the server.
    async fn notification(&mut self) -> Value {
        if let Some(notification) = self.notifications.pop_front() {
            return notification;
        }
        let frame = self.frame().await;
        let Message::Text(text) = frame else {
            panic!("not a text frame: {frame:?}");
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(value["method"].is_string(), "not a notification: {value}");
        value
    }

    /// Sends `text` and gets the reply.
    async fn raw(&mut self, text: impl Into<String>) -> Value {
        self.send(Message::text(text.into())).await;
        self.reply().await
    }

    /// Calls `method` (with no params if they are null) and gets its whole response.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({ "jsonrpc": "2.0", "id": id, "method": method });
        if !params.is_null() {
            request["params"] = params;
        }
        let response = self.raw(request.to_string()).await;
        assert_eq!(
            response["id"], id,
            "the response to another request: {response}"
        );
        response
    }

    /// Calls `method`, which must succeed, and gets its result.
    async fn ok(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params).await;
        assert!(
            response.get("error").is_none(),
            "`{method}` failed: {response}"
        );
        response["result"].clone()
    }

    /// Calls `method`, which must fail, and gets its error.
    async fn error(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params).await;
        assert!(
            response.get("result").is_none(),
            "`{method}` succeeded: {response}"
        );
        response["error"].clone()
    }

    /// Calls `method`, which must fail with `code` and `kind`; gets its error.
    async fn refused(&mut self, method: &str, params: Value, code: i64, kind: &str) -> Value {
        let error = self.error(method, params).await;
        assert_eq!(
            (error["code"].as_i64(), error["data"]["kind"].as_str()),
            (Some(code), Some(kind)),
            "{error:.300}"
        );
        error
    }

    /// `agent`'s status, once `done` says it is what the test waits for.
    async fn until(&mut self, agent: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.ok("status", json!({ "agent": agent })).await;
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "`{agent}` never got there: {status}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The system's time, in ms since the epoch. The agents' clock follows tokio's from when they
/// started, so it may be a few ms off: times are compared with a second's leeway.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

const LEEWAY: u64 = 1_000;

fn idle_with(done: u64) -> impl Fn(&Value) -> bool {
    move |s| s["state"] == "idle" && s["done"] == done
}

#[tokio::test]
async fn every_method_has_its_effect() {
    let mut client = Client::connect(&server(1 << 20).await).await;
    let ada = json!({ "agent": "ada" });

    // create, with the kind's default state or a given one
    let created = client
        .ok("create", json!({ "name": "ada", "kind": "counter" }))
        .await;
    assert_eq!(
        (&created["name"], &created["kind"], &created["state"]),
        (&json!("ada"), &json!("counter"), &json!("idle"))
    );
    let state = json!({ "n": 41 });
    client
        .ok(
            "create",
            json!({ "name": "bob", "kind": "counter", "state": state }),
        )
        .await;
    assert_eq!(client.ok("state", json!({ "agent": "bob" })).await, state);

    // schedule: the task runs and changes the state
    let task = json!({ "agent": "ada", "task": "count", "priority": 3 });
    assert_eq!(client.ok("schedule", task).await, json!({ "id": 1 }));
    client.until("ada", idle_with(1)).await;
    assert_eq!(client.ok("state", ada.clone()).await, json!({ "n": 1 }));

    // sleep with a timer and for urgent mail; mail below the priority waits, mail at it wakes
    let before = now_ms() - LEEWAY;
    let nap = json!({ "agent": "ada", "for_ms": 60_000, "mail": 5 });
    let asleep = client.ok("sleep", nap).await;
    assert_eq!(asleep["state"], "sleeping");
    assert_eq!(asleep["wakes_on_mail"], 5);
    let wake_at = asleep["wake_at_ms"].as_u64().unwrap();
    assert!(
        (before + 60_000..=now_ms() + 60_000 + LEEWAY).contains(&wake_at),
        "{asleep}"
    );
    let mail = json!({ "agent": "ada", "message": { "note": "later" }, "priority": 1 });
    assert_eq!(client.ok("mail", mail).await, json!({ "id": 2 }));
    let status = client.ok("status", ada.clone()).await;
    assert_eq!(
        (&status["state"], &status["queued"]),
        (&json!("sleeping"), &json!(1))
    );
    let urgent = json!({ "agent": "ada", "message": "now", "priority": 5 });
    assert_eq!(client.ok("mail", urgent).await, json!({ "id": 3 }));
    client.until("ada", idle_with(3)).await;

    // sleep on an event, and signal it
    let nap = json!({ "agent": "ada", "events": ["deploy"] });
    assert_eq!(client.ok("sleep", nap).await["wakes_on"], json!(["deploy"]));
    let deploy = json!({ "event": "deploy" });
    assert_eq!(
        client.ok("signal", deploy.clone()).await,
        json!({ "woken": 1 })
    );
    assert_eq!(client.ok("status", ada.clone()).await["state"], "idle");
    assert_eq!(client.ok("signal", deploy).await, json!({ "woken": 0 }));

    // sleep until woken, and wake
    let asleep = client.ok("sleep", ada.clone()).await;
    assert_eq!(
        (&asleep["state"], &asleep["wake_at_ms"]),
        (&json!("sleeping"), &Value::Null)
    );
    assert_eq!(
        client.ok("wake", ada.clone()).await,
        json!({ "woke": true })
    );
    assert_eq!(
        client.ok("wake", ada.clone()).await,
        json!({ "woke": false })
    );

    // every: a period that runs, a cron pattern that is far off
    let every = json!({ "agent": "ada", "every_ms": 20, "task": "count" });
    let next = client.ok("every", every).await["next_at_ms"]
        .as_u64()
        .unwrap();
    assert!(next >= before + 20, "{next}");
    client.until("ada", |s| s["done"].as_u64() >= Some(5)).await;
    let yearly = json!({ "agent": "bob", "cron": "0 0 1 1 *", "task": "count" });
    let next = client.ok("every", yearly).await["next_at_ms"]
        .as_u64()
        .unwrap();
    assert!(next > now_ms() + LEEWAY, "{next}");
    assert_eq!(
        client.ok("status", json!({ "agent": "bob" })).await["schedules"],
        json!([next])
    );

    // list
    let list = client.ok("list", json!({})).await;
    let names: Vec<_> = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["name"])
        .collect();
    assert_eq!(names, [&json!("ada"), &json!("bob")]);
    assert!(list["at_ms"].as_u64().unwrap() >= before);
    assert_eq!(
        client.ok("list", Value::Null).await["agents"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // dead tasks, and replaying them (to fail again: they are told to)
    let bob = json!({ "agent": "bob" });
    let doomed = json!({ "agent": "bob", "task": "count", "input": { "fail": true } });
    client.ok("schedule", doomed).await;
    client
        .until("bob", |s| s["dead"] == 1 && s["state"] == "idle")
        .await;
    let dead = client.ok("dead_tasks", bob.clone()).await;
    assert_eq!(dead[0]["task"]["input"], json!({ "fail": true }));
    assert_eq!(
        dead[0]["error"]
            .as_str()
            .map(|e| e.contains("told to fail")),
        Some(true)
    );
    assert_eq!(
        client.ok("replay_dead_tasks", bob.clone()).await,
        json!({ "replayed": 1 })
    );
    client
        .until("bob", |s| s["dead"] == 2 && s["state"] == "idle")
        .await;
    assert_eq!(
        client
            .ok("dead_tasks", bob.clone())
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // stop: for good, twice is fine, and then it takes no task
    assert_eq!(client.ok("stop", ada.clone()).await["state"], "stopped");
    assert_eq!(client.ok("stop", ada.clone()).await["state"], "stopped");
    let task = json!({ "agent": "ada", "task": "count" });
    assert_eq!(
        client.error("schedule", task).await,
        json!({
            "code": -32004,
            "message": "agent `ada` is stopped",
            "data": { "kind": "stopped", "agent": "ada" },
        })
    );
}

#[tokio::test]
async fn malformed_requests_get_json_rpc_errors() {
    let url = server(1 << 20).await;
    let mut client = Client::connect(&url).await;
    let error = |code: i64, message: &str| json!({ "code": code, "message": message });
    let response = |id: Value, error: Value| json!({ "jsonrpc": "2.0", "error": error, "id": id });

    // the envelope
    assert_eq!(
        client.raw("garbage").await,
        response(
            Value::Null,
            error(-32700, "not JSON: expected value at line 1 column 1")
        )
    );
    // nesting deeper than the parser goes is an error, not a stack overflow
    let deep = client.raw("[".repeat(100_000)).await;
    assert_eq!(
        (&deep["error"]["code"], &deep["id"]),
        (&json!(-32700), &Value::Null)
    );
    let no_version = error(-32600, "a request has `\"jsonrpc\": \"2.0\"`");
    assert_eq!(
        client.raw("{}").await,
        response(Value::Null, no_version.clone())
    );
    let old = r#"{"jsonrpc": "1.0", "id": 3, "method": "list"}"#;
    assert_eq!(client.raw(old).await, response(json!(3), no_version));
    let not_object = error(-32600, "a request is an object");
    assert_eq!(client.raw("42").await, response(Value::Null, not_object));
    let bad_id = r#"{"jsonrpc": "2.0", "id": {"n": 1}, "method": "list"}"#;
    let bad_id_error = error(-32600, "a request's `id` is a string, a number or null");
    assert_eq!(
        client.raw(bad_id).await,
        response(Value::Null, bad_id_error)
    );
    let bad_method = r#"{"jsonrpc": "2.0", "id": "four", "method": 4}"#;
    assert_eq!(client.raw(bad_method).await["error"]["code"], -32600);
    assert_eq!(client.raw(bad_method).await["id"], "four");
    let bad_params = r#"{"jsonrpc": "2.0", "id": 5, "method": "list", "params": "all"}"#;
    assert_eq!(client.raw(bad_params).await["error"]["code"], -32600);
    // an id of null is a request still, answered with null
    let null_id = r#"{"jsonrpc": "2.0", "id": null, "method": "list"}"#;
    let listed = client.raw(null_id).await;
    assert_eq!(
        (&listed["id"], &listed["result"]["agents"]),
        (&Value::Null, &json!([]))
    );

    // methods and params
    assert_eq!(
        client.error("launch", json!({})).await,
        error(
            -32601,
            "there is no method `launch`; the methods are: create, schedule, mail, sleep, wake, \
             signal, every, stop, status, state, list, dead_tasks, replay_dead_tasks, \
             subscribe, unsubscribe, runs, run, answer, subscribe_runs, unsubscribe_runs"
        )
    );
    let invalid = |message: &str| error(-32602, message);
    assert_eq!(
        client.error("schedule", json!({})).await,
        invalid("invalid params for `schedule`: missing field `agent`")
    );
    let shouted = json!({ "agent": "ada", "task": "count", "priority": "high" });
    assert_eq!(
        client.error("schedule", shouted).await,
        invalid(
            "invalid params for `schedule`: `priority`: invalid type: string \"high\", expected u8"
        )
    );
    let misspelt = json!({ "agent": "ada", "task": "count", "priorty": 1 });
    let message = client.error("schedule", misspelt).await["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("unknown field `priorty`"),
        "{message}"
    );
    assert_eq!(
        client.error("list", json!([])).await,
        invalid("invalid params for `list`: params are by name, in an object, not by position")
    );
    assert_eq!(
        client.error("mail", json!({ "agent": "ada" })).await,
        invalid("invalid params for `mail`: missing field `message`")
    );
    let both = json!({ "agent": "ada", "every_ms": 5, "cron": "* * * * *", "task": "count" });
    assert_eq!(
        client.error("every", both).await,
        invalid("invalid params for `every`: give one of `every_ms` and `cron`")
    );
    let never = json!({ "agent": "ada", "every_ms": 0, "task": "count" });
    assert_eq!(client.error("every", never).await["code"], -32602);
    let bad_cron = json!({ "agent": "ada", "cron": "61 * * * *", "task": "count" });
    let message = client.error("every", bad_cron).await["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .starts_with("invalid params for `every`: bad cron")
    );

    // the agents' own errors
    assert_eq!(
        client.error("status", json!({ "agent": "nobody" })).await,
        json!({
            "code": -32001,
            "message": "there is no agent `nobody`",
            "data": { "kind": "no_agent", "agent": "nobody" },
        })
    );
    let kinds = |result: Value| (result["code"].clone(), result["data"]["kind"].clone());
    let ada = json!({ "name": "ada", "kind": "counter" });
    client.ok("create", ada.clone()).await;
    assert_eq!(
        kinds(client.error("create", ada).await),
        (json!(-32002), json!("exists"))
    );
    assert_eq!(
        client
            .error("create", json!({ "name": "r2", "kind": "robot" }))
            .await,
        json!({
            "code": -32003,
            "message": "there is no kind of agent `robot`; the kinds are: broken, counter",
            "data": { "kind": "no_kind" },
        })
    );
    let spaced = json!({ "name": "no spaces", "kind": "counter" });
    assert_eq!(
        kinds(client.error("create", spaced).await),
        (json!(-32008), json!("bad_name"))
    );
    let wrong = json!({ "name": "cy", "kind": "counter", "state": { "n": "one" } });
    assert_eq!(
        kinds(client.error("create", wrong).await),
        (json!(-32006), json!("bad_state"))
    );
    client.ok("sleep", json!({ "agent": "ada" })).await;
    for _ in 0..4 {
        client
            .ok("schedule", json!({ "agent": "ada", "task": "count" }))
            .await;
    }
    let full = client
        .error("schedule", json!({ "agent": "ada", "task": "count" }))
        .await;
    assert_eq!(kinds(full), (json!(-32005), json!("queue_full")));
    client.ok("stop", json!({ "agent": "ada" })).await;
    let replay = client
        .error("replay_dead_tasks", json!({ "agent": "ada" }))
        .await;
    assert_eq!(kinds(replay), (json!(-32004), json!("stopped")));

    // a method that panics fails alone
    assert_eq!(
        client
            .error("create", json!({ "name": "x", "kind": "broken" }))
            .await,
        error(-32603, "the server failed: `create` panicked")
    );

    // after all that, this connection and a new one still work
    assert_eq!(
        client.ok("list", json!({})).await["agents"][0]["name"],
        "ada"
    );
    let mut other = Client::connect(&url).await;
    assert_eq!(
        other.ok("status", json!({ "agent": "ada" })).await["state"],
        "stopped"
    );
}

#[tokio::test]
async fn batches_are_answered_in_one_array() {
    let mut client = Client::connect(&server(1 << 20).await).await;
    let batch = json!([
        { "jsonrpc": "2.0", "id": 1, "method": "create", "params": { "name": "ada", "kind": "counter" } },
        { "jsonrpc": "2.0", "method": "status", "params": { "agent": "nobody" } },
        1,
        { "jsonrpc": "2.0", "id": "two", "method": "nope" },
        { "jsonrpc": "2.0", "id": 3, "method": "status", "params": { "agent": "ada" } },
    ]);
    let responses = client.raw(batch.to_string()).await;
    let responses = responses.as_array().unwrap();
    // the notification among them is not answered; the rest are, in order
    assert_eq!(responses.len(), 4);
    assert_eq!(responses[0]["result"]["name"], "ada");
    assert_eq!(
        responses[1],
        json!({
            "jsonrpc": "2.0",
            "error": { "code": -32600, "message": "a request is an object" },
            "id": null,
        })
    );
    assert_eq!(
        (&responses[2]["id"], &responses[2]["error"]["code"]),
        (&json!("two"), &json!(-32601))
    );
    // the batch's calls see each other's effects
    assert_eq!(
        (&responses[3]["id"], &responses[3]["result"]["state"]),
        (&json!(3), &json!("idle"))
    );

    assert_eq!(
        client.raw("[]").await,
        json!({
            "jsonrpc": "2.0",
            "error": { "code": -32600, "message": "an empty batch: a batch holds at least one request" },
            "id": null,
        })
    );
    let invalid = client.raw("[1, 2]").await;
    assert_eq!(invalid.as_array().map(Vec::len), Some(2));

    // a batch of notifications gets nothing: the next frame is the next request's response
    let quiet = json!([
        { "jsonrpc": "2.0", "method": "create", "params": { "name": "bo", "kind": "counter" } },
        { "jsonrpc": "2.0", "method": "list" },
    ]);
    client.send(Message::text(quiet.to_string())).await;
    assert_eq!(
        client.ok("status", json!({ "agent": "bo" })).await["state"],
        "idle"
    );
}

#[tokio::test]
async fn notifications_get_no_reply() {
    let mut client = Client::connect(&server(1 << 20).await).await;
    for notification in [
        json!({ "jsonrpc": "2.0", "method": "create", "params": { "name": "ada", "kind": "counter" } }),
        json!({ "jsonrpc": "2.0", "method": "launch" }),
        json!({ "jsonrpc": "2.0", "method": "status", "params": { "agent": 7 } }),
        json!({ "jsonrpc": "2.0", "method": "status", "params": { "agent": "nobody" } }),
    ] {
        client.send(Message::text(notification.to_string())).await;
    }
    // requests are answered in order, so a reply to any of those would come first
    let response = client.call("status", json!({ "agent": "ada" })).await;
    assert_eq!(response["result"]["state"], "idle");
}

#[tokio::test]
async fn binary_and_oversized_frames_are_refused() {
    let url = server(1024).await;
    let mut client = Client::connect(&url).await;
    client.send(Message::binary(b"{}".to_vec())).await;
    assert_eq!(
        client.reply().await,
        json!({
            "jsonrpc": "2.0",
            "error": {
                "code": -32600,
                "message": "binary frames are not read: send each request as a text frame",
            },
            "id": null,
        })
    );
    let padded = |bytes: usize| {
        let request = r#"{"jsonrpc": "2.0", "id": 1, "method": "list", "params": {"pad": ""}}"#;
        request.replace(
            r#""pad": """#,
            &format!(r#""pad": "{}""#, "x".repeat(bytes - request.len())),
        )
    };
    // at the limit, it is read (and its params refused)
    assert_eq!(client.raw(padded(1024)).await["error"]["code"], -32602);
    assert_eq!(client.ok("list", json!({})).await["agents"], json!([]));

    // over the limit, it is not read: the connection closes, saying why
    client.send(Message::text(padded(1025))).await;
    let Message::Close(Some(close)) = client.frame().await else {
        panic!("the connection did not close");
    };
    assert_eq!(close.code, CloseCode::Size);
    assert_eq!(
        close.reason.as_str(),
        "a frame of 1025 bytes is over this server's limit of 1024 (`Control::max_request`)"
    );

    let mut other = Client::connect(&url).await;
    assert_eq!(other.ok("list", json!({})).await["agents"], json!([]));
}

#[tokio::test]
async fn subscribers_get_events_as_notifications() {
    let url = server(1 << 20).await;
    let (mut watcher, mut worker) = (Client::connect(&url).await, Client::connect(&url).await);
    assert_eq!(
        watcher.ok("subscribe", json!({ "agent": "ada" })).await,
        json!({ "subscribed": true })
    );
    worker
        .ok("create", json!({ "name": "bob", "kind": "counter" }))
        .await;
    worker
        .ok("create", json!({ "name": "ada", "kind": "counter" }))
        .await;
    worker
        .ok("schedule", json!({ "agent": "ada", "task": "count" }))
        .await;
    worker.until("ada", idle_with(1)).await;

    // only ada's (in the order the agents emit them, which is not quite the order of cause)
    let mut events = Vec::new();
    for _ in 0..6 {
        let notification = watcher.notification().await;
        assert_eq!(notification["method"], "event");
        assert_eq!(notification["params"]["agent"], "ada");
        events.push(notification["params"]["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(events[0], "created");
    events.sort();
    assert_eq!(
        events,
        [
            "created",
            "state",
            "state",
            "task_done",
            "task_queued",
            "task_started"
        ]
    );

    assert_eq!(
        watcher.ok("unsubscribe", Value::Null).await,
        json!({ "unsubscribed": true })
    );
    assert_eq!(
        watcher.ok("unsubscribe", Value::Null).await,
        json!({ "unsubscribed": false })
    );
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_how_far() {
    let mut client = Client::connect(&server_with(|control| control.max_batch(1100)).await).await;
    client.ok("subscribe", json!({})).await;
    // One batch makes 1,100 events while the connection is busy answering it; the channel
    // holds 1,024 of them.
    let batch: Vec<_> = (0..1100)
        .map(|i| {
            json!({
                "jsonrpc": "2.0", "id": i, "method": "create",
                "params": { "name": format!("a{i}"), "kind": "counter" },
            })
        })
        .collect();
    let responses = client.raw(Value::Array(batch).to_string()).await;
    assert_eq!(responses.as_array().map(Vec::len), Some(1100));
    assert_eq!(
        client.notification().await,
        json!({ "jsonrpc": "2.0", "method": "lagged", "params": { "missed": 76 } })
    );
    let next = client.notification().await;
    assert_eq!(
        (&next["params"]["event"], &next["params"]["agent"]),
        (&json!("created"), &json!("a76"))
    );
}

#[tokio::test]
async fn two_clients_at_once() {
    let url = server(1 << 20).await;
    let (mut a, mut b) = (Client::connect(&url).await, Client::connect(&url).await);
    // Each client creates its agents and gives each a task, both at once.
    async fn work(client: &mut Client, prefix: &str) {
        for i in 0..20 {
            let name = format!("{prefix}{i}");
            client
                .ok("create", json!({ "name": name, "kind": "counter" }))
                .await;
            client
                .ok("schedule", json!({ "agent": name, "task": "count" }))
                .await;
        }
    }
    tokio::join!(work(&mut a, "a"), work(&mut b, "b"));
    assert_eq!(
        a.ok("list", json!({})).await["agents"]
            .as_array()
            .unwrap()
            .len(),
        40
    );
    for i in 0..20 {
        a.until(&format!("b{i}"), idle_with(1)).await;
        b.until(&format!("a{i}"), idle_with(1)).await;
    }
}

#[tokio::test]
async fn a_client_is_held_to_the_limits_on_agents_schedules_and_names() {
    // Kinds `counter` (at most 2) and `other`, at most 3 agents in all, the default limits
    // otherwise.
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("counter", plan! { count })
        .kind("other", plan! { count })
        .kind_limit("counter", 2)
        .limits(AgentLimits {
            agents: 3,
            ..AgentLimits::default()
        })
        .start()
        .await
        .unwrap();
    let mut client = Client::connect(&serve(agents, |control| control).await).await;
    let create = |agent: &str, kind: &str| json!({ "name": agent, "kind": kind });
    for agent in ["c1", "c2"] {
        client.ok("create", create(agent, "counter")).await;
    }
    let error = client
        .refused("create", create("c3", "counter"), -32014, "kind_full")
        .await;
    assert_eq!(error["data"]["agent"], "c3");
    client.ok("create", create("o1", "other")).await;
    let error = client
        .refused("create", create("o2", "other"), -32013, "too_many_agents")
        .await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("session::AgentLimits::agents"),
        "{error}"
    );

    let every = json!({ "agent": "c1", "every_ms": 1, "task": "count" });
    client.refused("every", every, -32015, "too_frequent").await;
    let every = json!({ "agent": "c1", "every_ms": 1_000, "task": "count" });
    let ok = client.ok("every", every).await;
    assert!(ok["next_at_ms"].is_u64(), "{ok}");

    // A 500,000-byte name, in a request under the frame limit of 1 MiB, gets a short answer.
    let huge = "a".repeat(500_000);
    for (method, params, code, kind) in [
        ("create", create(&huge, "counter"), -32008, "bad_name"),
        ("create", create("c9", &huge), -32003, "no_kind"),
        ("status", json!({ "agent": huge }), -32001, "no_agent"),
        (
            "schedule",
            json!({ "agent": "c1", "task": huge }),
            -32017,
            "name_too_long",
        ),
    ] {
        let error = client.refused(method, params, code, kind).await;
        let answer = error.to_string();
        assert!(answer.len() < 1_000, "{method}: {} bytes", answer.len());
        assert!(answer.contains("(500000 bytes)"), "{answer}");
    }
    // The control API's own errors quote the client no more than the session's do: a method
    // of that name, a field of that name.
    for (method, params, code) in [
        (huge.as_str(), json!({}), -32601),
        ("status", json!({ "agent": "c1", huge.as_str(): 1 }), -32602),
    ] {
        let error = client.error(method, params).await;
        let answer = error.to_string();
        assert_eq!(error["code"], code, "{answer:.200}");
        assert!(answer.len() < 1_000, "{code}: {} bytes", answer.len());
    }
}

/// A step that takes a while, so that a subscriber sees the run going.
async fn slow_double(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(50)).await;
    n * 2
}

#[derive(Serialize, Deserialize)]
struct Verdict {
    approved: bool,
}

fn verdict_of(approved: Verdict) -> bool {
    approved.approved
}

#[tokio::test]
async fn runs_on_the_board_are_listed_shown_streamed_and_answered() {
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .start()
        .await
        .unwrap();
    let board = RunBoard::new();
    let url = serve(agents, |control| control.runs(board.clone())).await;
    let mut client = Client::connect(&url).await;
    assert_eq!(client.ok("runs", Value::Null).await, json!({ "runs": [] }));
    client.ok("subscribe_runs", Value::Null).await;

    let plan = plan! { slow_double >> slow_double };
    let watch = board.watch("doubling", &plan);
    assert_eq!(plan.run(1).monitor(&*watch).await.unwrap(), 4);
    // Every node's start and end, in order, after the run's announcement.
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let notification = client.notification().await;
        assert_eq!(notification["method"], "run_event", "{notification}");
        let event = &notification["params"];
        assert_eq!(event["run"], watch.id());
        seen.push(format!(
            "{} {}",
            event["event"].as_str().unwrap(),
            event["name"].as_str().unwrap_or("")
        ));
    }
    assert_eq!(
        seen,
        [
            "run doubling",
            "started plan",
            "started slow_double",
            "finished slow_double",
            "started slow_double",
            "finished slow_double",
            "finished plan",
        ]
    );
    let listed = client.ok("runs", Value::Null).await;
    assert_eq!(listed["runs"][0]["status"], "done");
    assert_eq!(listed["runs"][0]["ok"], 3);
    let shown = client.ok("run", json!({ "run": watch.id() })).await;
    assert_eq!(shown["graph"]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(shown["report"]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(shown["critical"], json!([0, 1, 2]));
    assert_eq!(shown["question"], Value::Null);

    // Answers: to no run, to a run that asks nothing, one that does not fit, one that does.
    let absent = client
        .refused(
            "answer",
            json!({ "run": 99, "answer": {} }),
            -32030,
            "no_run",
        )
        .await;
    assert_eq!(absent["message"], "there is no run 99 on the board");
    let id = watch.id();
    client
        .refused(
            "answer",
            json!({ "run": id, "answer": {} }),
            -32031,
            "no_question",
        )
        .await;
    let asking = plan! { verdict_of };
    let watch = board.watch("asking", &asking);
    let question = plan_state::wait::Question {
        node: "approve".to_owned(),
        entry: "0".to_owned(),
        question: json!("publish?"),
        refused: None,
    };
    let answer = watch.ask(&question, Form::new().yes_no("approved", "Publish it?"));
    let shown = client.ok("run", json!({ "run": watch.id() })).await;
    assert_eq!(shown["run"]["status"], "waiting");
    assert_eq!(shown["question"]["question"], "publish?");
    assert_eq!(
        shown["question"]["form"],
        json!({ "fields": [{ "name": "approved", "label": "Publish it?", "type": "yes_no" }] })
    );
    let bad = json!({ "run": watch.id(), "answer": { "approved": "yes" } });
    let refused = client.refused("answer", bad, -32032, "bad_answer").await;
    assert_eq!(
        refused["message"],
        format!(
            "the answer to run {} does not fit its form: `approved` is true or false, not \"yes\"",
            watch.id()
        )
    );
    let good = json!({ "run": watch.id(), "answer": { "approved": true } });
    assert_eq!(client.ok("answer", good).await, json!({ "answered": true }));
    assert_eq!(answer.await, Some(json!({ "approved": true })));
}
