//! The session limits through the control API, over a real WebSocket: a client is held to
//! them as code in process is, each refusal a JSON-RPC error of its own code and kind, and a
//! huge name is not echoed back.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use plan_agents::control::{Control, Token};
use plan_agents::session::{Agents, Limits, Turn};
use plan_runtime::prelude::*;
use plan_state::store::InMemory;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long an answer may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

async fn count(turn: Turn<Value>) -> Turn<Value> {
    turn
}

/// Serves agents of kinds `counter` (at most 2) and `other`, at most 3 in all, with the
/// default limits otherwise; returns the endpoint's URL, with its token.
async fn server() -> String {
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("counter", plan! { count })
        .kind("other", plan! { count })
        .kind_limit("counter", 2)
        .limits(Limits {
            agents: 3,
            ..Limits::default()
        })
        .start()
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token = Token::random();
    let url = format!(
        "ws://{}/rpc?token={}",
        listener.local_addr().unwrap(),
        token.expose()
    );
    tokio::spawn(Control::new(agents, token).serve(listener));
    url
}

struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Client {
    async fn connect(url: &str) -> Self {
        let (socket, _) = connect_async(url).await.unwrap();
        Client { socket, next_id: 1 }
    }

    /// Calls `method` and gets its response, as text (to measure) and as JSON.
    async fn call(&mut self, method: &str, params: Value) -> (String, Value) {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(request.to_string()))
            .await
            .unwrap();
        loop {
            let frame = timeout(PATIENCE, self.socket.next())
                .await
                .expect("no answer in time")
                .expect("the connection ended")
                .expect("a broken frame");
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["id"] == id {
                return (text.to_string(), value);
            }
        }
    }

    /// Calls `method`, which must fail with `code` and `kind`; returns the error.
    async fn refused(&mut self, method: &str, params: Value, code: i64, kind: &str) -> Value {
        let (_, response) = self.call(method, params).await;
        let error = &response["error"];
        assert_eq!(
            (error["code"].as_i64(), error["data"]["kind"].as_str()),
            (Some(code), Some(kind)),
            "{response}"
        );
        error.clone()
    }
}

#[tokio::test]
async fn a_client_is_held_to_the_limits_on_agents_schedules_and_names() {
    let url = server().await;
    let mut client = Client::connect(&url).await;
    let create = |agent: &str, kind: &str| json!({ "name": agent, "kind": kind });
    for agent in ["c1", "c2"] {
        let (_, ok) = client.call("create", create(agent, "counter")).await;
        assert!(ok["result"].is_object(), "{ok}");
    }
    let error = client
        .refused("create", create("c3", "counter"), -32014, "kind_full")
        .await;
    assert_eq!(error["data"]["agent"], "c3");
    client.call("create", create("o1", "other")).await;
    let error = client
        .refused("create", create("o2", "other"), -32013, "too_many_agents")
        .await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("session::Limits::agents"),
        "{error}"
    );

    let every = json!({ "agent": "c1", "every_ms": 1, "task": "count" });
    client.refused("every", every, -32015, "too_frequent").await;
    let every = json!({ "agent": "c1", "every_ms": 1_000, "task": "count" });
    let (_, ok) = client.call("every", every).await;
    assert!(ok["result"]["next_at_ms"].is_u64(), "{ok}");

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
        let (_, response) = client.call(method, params).await;
        let answer = response["error"].to_string();
        assert_eq!(response["error"]["code"], code, "{answer:.200}");
        assert!(answer.len() < 1_000, "{code}: {} bytes", answer.len());
    }
}
