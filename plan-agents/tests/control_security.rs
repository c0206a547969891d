//! The control API against a client that means harm, over real sockets on 127.0.0.1: no
//! token, a wrong one, a web page of another origin, more connections than allowed, batches
//! too large or whose answers would be, frames and handshakes never finished, connections idle
//! or that never read. The server must refuse each as documented and carry on.
//!
//! The tests that measure memory run the server in a child process, so that their own buffers
//! do not count: this binary, run as `control_security server_process --exact --ignored` with
//! `PLAN_CONTROL_SECURITY_SERVER` set to its limits, is that server (the `server_process` test
//! does nothing otherwise). Real sockets need the real clock; the timeouts under test are a
//! second or so, and every wait for something that must happen is generous.

use std::io::{BufRead, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use plan_agents::control::{Control, Token};
use plan_agents::session::{Agents, Turn};
use plan_runtime::prelude::*;
use plan_state::store::InMemory;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long anything that must happen may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// The variable that makes this binary the server of the memory tests, with its limits.
const SERVER: &str = "PLAN_CONTROL_SECURITY_SERVER";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn count(mut turn: Turn<u64>) -> Turn<u64> {
    turn.state += 1;
    turn
}

async fn agents() -> Agents<InMemory> {
    Agents::builder(Arc::new(InMemory::new()))
        .kind("counter", plan! { count })
        .start()
        .await
        .unwrap()
}

/// A server in this process, with the limits `configure` sets: its address and token.
async fn serve(configure: impl FnOnce(Control<InMemory>) -> Control<InMemory>) -> (String, Token) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let token = Token::random();
    let control = configure(Control::new(agents().await, token.clone()));
    tokio::spawn(control.serve(listener));
    (addr, token)
}

fn url(addr: &str, token: &Token) -> String {
    format!("ws://{addr}/rpc?token={}", token.expose())
}

/// The handshake's answer to `request`: the socket, or the HTTP status and body it was
/// refused with.
async fn handshake(
    request: impl IntoClientRequest + Unpin,
) -> Result<Socket, (StatusCode, String)> {
    match connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            Err((
                response.status(),
                String::from_utf8_lossy(&body).into_owned(),
            ))
        }
        Err(error) => panic!("not an HTTP refusal: {error}"),
    }
}

/// Sends `request` and returns the reply.
async fn call(socket: &mut Socket, request: Value) -> Value {
    socket
        .send(Message::text(request.to_string()))
        .await
        .unwrap();
    loop {
        let frame = timeout(PATIENCE, socket.next())
            .await
            .expect("no reply in time")
            .expect("the connection ended")
            .expect("a broken frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            frame => panic!("not a reply: {frame:?}"),
        }
    }
}

async fn list(socket: &mut Socket) -> Value {
    call(
        socket,
        json!({ "jsonrpc": "2.0", "id": 0, "method": "list" }),
    )
    .await
}

/// A batch creating counters `prefix0`, `prefix1`, … `prefix{n-1}`.
fn creates(prefix: &str, n: usize) -> Value {
    (0..n)
        .map(|i| {
            json!({
                "jsonrpc": "2.0", "id": i, "method": "create",
                "params": { "name": format!("{prefix}{i}"), "kind": "counter" },
            })
        })
        .collect()
}

/// The next close frame the server sends on `socket`, skipping replies.
async fn closed(socket: &mut Socket) -> (CloseCode, String) {
    loop {
        match timeout(PATIENCE, socket.next())
            .await
            .expect("no close in time")
        {
            Some(Ok(Message::Close(Some(close)))) => {
                return (close.code, close.reason.as_str().to_owned());
            }
            Some(Ok(_)) => continue,
            other => panic!("not a close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn no_token_or_a_wrong_one_is_refused_before_the_upgrade() {
    let (addr, token) = serve(|control| control).await;
    let (status, body) = handshake(format!("ws://{addr}/rpc")).await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        "the control API needs a token: `Authorization: Bearer TOKEN` or `?token=TOKEN`"
    );

    let wrong = Token::random();
    let (status, body) = handshake(url(&addr, &wrong)).await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, "the token is not this server's");

    let mut request = format!("ws://{addr}/rpc").into_client_request().unwrap();
    let bearer = format!("Bearer {}", wrong.expose());
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_str(&bearer).unwrap());
    let error = connect_async(request).await.unwrap_err();
    let WsError::Http(response) = error else {
        panic!("not refused: {error}")
    };
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    // A token one character short of the right one is as wrong as any other.
    let short = &token.expose()[..token.expose().len() - 1];
    let (status, _) = handshake(format!("ws://{addr}/rpc?token={short}"))
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_token_works_as_a_bearer_or_in_the_query() {
    let (addr, token) = serve(|control| control).await;
    let mut socket = handshake(url(&addr, &token)).await.unwrap();
    assert_eq!(list(&mut socket).await["result"]["agents"], json!([]));

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let mut request = format!("ws://{addr}/rpc").into_client_request().unwrap();
        let value = format!("{scheme} {}", token.expose());
        request
            .headers_mut()
            .insert("authorization", HeaderValue::from_str(&value).unwrap());
        let mut socket = handshake(request).await.unwrap();
        assert_eq!(list(&mut socket).await["result"]["agents"], json!([]));
    }
    // Among other query parameters.
    let url = format!("ws://{addr}/rpc?client=cli&token={}&v=1", token.expose());
    let mut socket = handshake(url).await.unwrap();
    assert_eq!(list(&mut socket).await["result"]["agents"], json!([]));
}

/// A log that tests can read: every event and span, at every level.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_is_in_no_log() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // This test's runtime has one thread: the server's tasks log through this subscriber.
    let _default = tracing::subscriber::set_default(subscriber);
    let (addr, token) = serve(|control| control.idle_timeout(Duration::from_millis(200))).await;
    let wrong = Token::random();
    handshake(url(&addr, &wrong)).await.unwrap_err();
    let mut socket = handshake(url(&addr, &token)).await.unwrap();
    list(&mut socket).await;
    call(&mut socket, json!({ "id": 1, "method": "list" })).await;
    closed(&mut socket).await;

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("connection opened"), "{log}");
    assert!(log.contains("closing an idle connection"), "{log}");
    assert!(!log.contains(token.expose()), "{log}");
    assert!(!log.contains(wrong.expose()), "{log}");
    assert!(!log.contains("token="), "{log}");
}

/// A handshake with the right token and `origin`.
async fn with_origin(
    addr: &str,
    token: &Token,
    origin: &str,
) -> Result<Socket, (StatusCode, String)> {
    let mut request = url(addr, token).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin).unwrap());
    handshake(request).await
}

#[tokio::test]
async fn web_pages_of_other_origins_are_refused() {
    let (addr, token) = serve(|control| control.allow_origin("http://localhost:3000/")).await;
    for evil in [
        "http://evil.example",
        "null",
        &format!("http://{addr}.evil.example"),
        &format!("ws://{addr}"),
        "http://localhost:3001",
    ] {
        let (status, body) = with_origin(&addr, &token, evil).await.unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN, "{evil}");
        assert!(body.contains("`Control::allow_origin`"), "{body}");
    }
    // The origin is judged before the token: a page elsewhere learns nothing of tokens.
    let wrong = Token::random();
    let (status, _) = with_origin(&addr, &wrong, "http://evil.example")
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);

    for good in [
        format!("http://{addr}"),
        format!("https://{addr}"),
        format!("HTTP://{}", addr.to_uppercase()),
        "http://localhost:3000".to_owned(),
    ] {
        let mut socket = with_origin(&addr, &token, &good).await.unwrap();
        assert_eq!(
            list(&mut socket).await["result"]["agents"],
            json!([]),
            "{good}"
        );
    }
    // The right origin does not stand for the token.
    let (status, _) = with_origin(&addr, &wrong, &format!("http://{addr}"))
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_batch_over_the_limit_runs_none_of_its_calls() {
    let (addr, token) = serve(|control| control).await;
    let mut socket = handshake(url(&addr, &token)).await.unwrap();
    assert_eq!(
        call(&mut socket, creates("a", 65)).await,
        json!({
            "jsonrpc": "2.0",
            "error": {
                "code": -32600,
                "message": "a batch of 65 calls is over this server's limit of 64 (`Control::max_batch`): none was run",
            },
            "id": null,
        })
    );
    assert_eq!(list(&mut socket).await["result"]["agents"], json!([]));
    let answers = call(&mut socket, creates("a", 64)).await;
    assert_eq!(answers.as_array().unwrap().len(), 64);
    assert_eq!(answers[63]["result"]["name"], "a63");
}

#[tokio::test]
async fn answers_over_the_limit_are_errors_and_the_rest_of_the_batch_is_not_run() {
    let (addr, token) = serve(|control| control.max_response(2_000)).await;
    let mut socket = handshake(url(&addr, &token)).await.unwrap();
    call(&mut socket, creates("agent-with-a-long-name-", 4)).await;

    // One `list` fits; not a second: it ran but its answer is withheld, and the calls after
    // it (a create among them) are not run. Notifications get nothing, as always.
    let batch = json!([
        { "jsonrpc": "2.0", "id": 1, "method": "list" },
        { "jsonrpc": "2.0", "id": 2, "method": "list" },
        { "jsonrpc": "2.0", "id": 3, "method": "create", "params": { "name": "late", "kind": "counter" } },
        { "jsonrpc": "2.0", "method": "create", "params": { "name": "later", "kind": "counter" } },
        { "jsonrpc": "1.0", "id": 4, "method": "list" },
    ]);
    let answers = call(&mut socket, batch).await;
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0]["result"]["agents"].as_array().unwrap().len(), 4);
    assert_eq!(
        answers[1],
        json!({
            "jsonrpc": "2.0",
            "error": {
                "code": -32020,
                "message": "this call ran, but its answer would take the batch's answers over this server's limit of 2000 bytes (`Control::max_response`)",
                "data": { "kind": "too_large" },
            },
            "id": 2,
        })
    );
    assert_eq!(answers[2]["id"], 3);
    assert_eq!(answers[2]["error"]["code"], -32021);
    assert_eq!(answers[2]["error"]["data"], json!({ "kind": "not_run" }));
    assert_eq!(answers[3]["error"]["code"], -32600);
    let names: Vec<Value> = list(&mut socket).await["result"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|agent| agent["name"].clone())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");

    // A single answer over the limit.
    call(&mut socket, creates("more-agents-with-long-names-", 10)).await;
    let answer = list(&mut socket).await;
    assert_eq!(answer["id"], 0);
    assert_eq!(answer["error"]["code"], -32020);
    assert_eq!(
        answer["error"]["message"],
        "this call ran, but its answer is over this server's limit of 2000 bytes (`Control::max_response`)"
    );
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_until_one_closes() {
    let (addr, token) = serve(|control| control.max_connections(2)).await;
    let mut a = handshake(url(&addr, &token)).await.unwrap();
    let mut b = handshake(url(&addr, &token)).await.unwrap();
    let (status, body) = handshake(url(&addr, &token)).await.unwrap_err();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        "the control API has its 2 connections open (`Control::max_connections`): try again later"
    );
    assert_eq!(list(&mut a).await["result"]["agents"], json!([]));
    assert_eq!(list(&mut b).await["result"]["agents"], json!([]));

    b.close(None).await.unwrap();
    drop(b);
    // The slot is free once the server has seen the close.
    let deadline = Instant::now() + PATIENCE;
    let mut c = loop {
        match handshake(url(&addr, &token)).await {
            Ok(socket) => break socket,
            Err((StatusCode::SERVICE_UNAVAILABLE, _)) if Instant::now() < deadline => {
                sleep(Duration::from_millis(20)).await;
            }
            Err(refused) => panic!("still refused: {refused:?}"),
        }
    };
    assert_eq!(list(&mut c).await["result"]["agents"], json!([]));
}

/// A raw TCP connection through the WebSocket handshake, ready for frames; `None` if the
/// server refused it (its limit of connections).
async fn raw_connection(addr: &str, token: &Token) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!(
        "GET /rpc?token={} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        token.expose()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    head.starts_with(b"HTTP/1.1 101 ").then_some(stream)
}

/// The header of a masked text frame (as a client sends) of `len` bytes.
fn frame_header(len: u64) -> Vec<u8> {
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    header
}

/// Everything the server sends on `stream` until it closes it: `None` if it does not in time.
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    timeout(PATIENCE, async {
        let mut buffer = [0; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some(received)
}

/// A server close frame's code and reason (server frames are not masked).
fn close_frame(bytes: &[u8]) -> (u16, String) {
    assert!(
        bytes.len() >= 4 && bytes[0] == 0x88,
        "not a close frame: {bytes:?}"
    );
    let len = usize::from(bytes[1]);
    let code = u16::from_be_bytes([bytes[2], bytes[3]]);
    (
        code,
        String::from_utf8_lossy(&bytes[4..2 + len]).into_owned(),
    )
}

#[tokio::test]
async fn a_frame_not_finished_in_time_closes_its_connection() {
    let (addr, token) = serve(|control| control.frame_timeout(Duration::from_secs(1))).await;
    let mut stream = raw_connection(&addr, &token).await.unwrap();
    // A frame of 100 bytes, of which 10 come.
    stream.write_all(&frame_header(100)).await.unwrap();
    stream.write_all(&[b'x'; 10]).await.unwrap();
    let start = Instant::now();
    let received = until_closed(&mut stream).await.expect("still open");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        close_frame(&received),
        (
            1008,
            "a frame not finished within 1 s (`Control::frame_timeout`)".to_owned()
        )
    );

    // Nor does a frame whose bytes come one at a time, each well within the time.
    let mut stream = raw_connection(&addr, &token).await.unwrap();
    stream.write_all(&frame_header(100)).await.unwrap();
    let start = Instant::now();
    let dribble = async {
        for _ in 0..100 {
            if stream.write_all(b"x").await.is_err() {
                break;
            }
            sleep(Duration::from_millis(100)).await;
        }
    };
    timeout(PATIENCE, dribble).await.unwrap();
    let received = until_closed(&mut stream).await.expect("still open");
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(close_frame(&received).0, 1008);

    // The server carries on.
    let mut socket = handshake(url(&addr, &token)).await.unwrap();
    assert_eq!(list(&mut socket).await["result"]["agents"], json!([]));
}

/// A masked frame (as a client sends) with the first byte `head` (FIN and opcode) and a
/// payload of under 126 bytes.
fn masked(head: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1, 2, 3, 4];
    let mut frame = vec![head, 0x80 | u8::try_from(payload.len()).unwrap()];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// The frames a server sent (not masked): each one's first byte and payload.
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let (len, start) = match bytes[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => panic!("a frame too long for these tests"),
            len => (usize::from(len), 2),
        };
        frames.push((bytes[0], bytes[start..start + len].to_vec()));
        bytes = &bytes[start + len..];
    }
    frames
}

/// The code of the close frame among the frames a server sent.
fn close_code(bytes: &[u8]) -> Option<u16> {
    frames(bytes)
        .into_iter()
        .find(|(head, _)| *head == 0x88)
        .map(|(_, payload)| u16::from_be_bytes([payload[0], payload[1]]))
}

#[tokio::test]
async fn a_frame_begun_in_the_same_packet_as_the_end_of_another_is_timed_too() {
    let (addr, token) = serve(|control| control.frame_timeout(Duration::from_secs(1))).await;
    let mut stream = raw_connection(&addr, &token).await.unwrap();
    // A whole request (one that keeps the connection from being idle), then the start of a
    // frame of 100 bytes, in one write: the server reads them at once.
    let mut bytes = masked(0x81, br#"{"jsonrpc":"2.0","id":1,"method":"subscribe"}"#);
    bytes.extend_from_slice(&frame_header(100));
    bytes.extend_from_slice(&[b'x'; 10]);
    stream.write_all(&bytes).await.unwrap();
    let received = until_closed(&mut stream).await.expect("still open");
    assert_eq!(close_code(&received), Some(1008), "{received:?}");
}

#[tokio::test]
async fn pings_do_not_put_off_the_end_of_a_message() {
    let (addr, token) = serve(|control| control.frame_timeout(Duration::from_secs(1))).await;
    let stream = raw_connection(&addr, &token).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // The first fragment of a text message (no FIN), whose last one never comes; then pings,
    // which may come between fragments, each well within the time.
    writer
        .write_all(&masked(0x01, br#"{"jsonrpc":"2.0","#))
        .await
        .unwrap();
    let pinging = tokio::spawn(async move {
        while writer.write_all(&masked(0x89, b"ping")).await.is_ok() {
            sleep(Duration::from_millis(200)).await;
        }
    });
    let mut received = Vec::new();
    let read = timeout(PATIENCE, async {
        let mut buffer = [0; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    pinging.abort();
    assert!(read.is_ok(), "still open");
    assert_eq!(close_code(&received), Some(1008), "{received:?}");
}

#[tokio::test]
async fn a_handshake_not_finished_in_time_is_closed() {
    let (addr, token) = serve(|control| control.frame_timeout(Duration::from_secs(1))).await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let start = Instant::now();
    until_closed(&mut stream).await.expect("still open");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    // Nor is a connection kept alive after its answer, waiting for a request that never comes.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut stream).await.expect("still open");
    assert!(
        answer.starts_with(b"HTTP/1.1 401 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    let mut socket = handshake(url(&addr, &token)).await.unwrap();
    assert_eq!(list(&mut socket).await["result"]["agents"], json!([]));
}

#[tokio::test]
async fn an_idle_connection_is_closed_unless_it_subscribed() {
    let (addr, token) = serve(|control| control.idle_timeout(Duration::from_secs(1))).await;
    let mut idle = handshake(url(&addr, &token)).await.unwrap();
    let mut subscribed = handshake(url(&addr, &token)).await.unwrap();
    let reply = call(
        &mut subscribed,
        json!({ "jsonrpc": "2.0", "id": 1, "method": "subscribe" }),
    )
    .await;
    assert_eq!(reply["result"], json!({ "subscribed": true }));

    let start = Instant::now();
    assert_eq!(
        closed(&mut idle).await,
        (
            CloseCode::Normal,
            "idle for 1 s with no subscription (`Control::idle_timeout`)".to_owned()
        )
    );
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    sleep(Duration::from_secs(1)).await;
    assert_eq!(list(&mut subscribed).await["result"]["agents"], json!([]));
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped() {
    let (addr, token) = serve(|control| control.frame_timeout(Duration::from_secs(1))).await;
    let mut setup = handshake(url(&addr, &token)).await.unwrap();
    for batch in 0..4 {
        call(&mut setup, creates(&format!("b{batch}-"), 50)).await;
    }
    // 500 lists of 200 agents: tens of megabytes of answers, more than the sockets' buffers
    // hold, to a client that reads none of them for a while.
    let mut reader = handshake(url(&addr, &token)).await.unwrap();
    let asked = 500;
    for id in 0..asked {
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": "list" });
        reader
            .send(Message::text(request.to_string()))
            .await
            .unwrap();
    }
    sleep(Duration::from_secs(3)).await;
    let mut answered = 0;
    let ended = timeout(PATIENCE, async {
        while let Some(Ok(frame)) = reader.next().await {
            if frame.is_text() {
                answered += 1;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "still open after {answered} answers");
    assert!(answered < asked, "all {answered} answered");
    // The server carries on.
    assert_eq!(
        list(&mut setup).await["result"]["agents"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
}

/// The server of the memory tests, in a child process: its address and token, and the
/// process (killed when dropped).
struct Server {
    addr: String,
    token: Token,
    child: Child,
}

impl Server {
    /// This binary as a server with `limits` (`name=value,…`: see `server_process`).
    async fn start(limits: &str) -> Server {
        let token = Token::random();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["server_process", "--exact", "--ignored", "--nocapture"])
            .env(SERVER, limits)
            .env("PLAN_CONTROL_TOKEN", token.expose())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reading = tokio::task::spawn_blocking(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if let Some(url) = line.unwrap().strip_prefix("control: ws://") {
                    return url.split('/').next().unwrap().to_owned();
                }
            }
            panic!("the server ended before it served");
        });
        let addr = timeout(PATIENCE, reading)
            .await
            .expect("the server did not start in time")
            .unwrap();
        Server { addr, token, child }
    }

    /// The server's resident memory at most, so far, in MiB (`VmHWM`).
    fn peak_mib(&self) -> u64 {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024
    }

    fn url(&self) -> String {
        url(&self.addr, &self.token)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The most resident memory, in MiB, that the memory tests allow the server. Idle with 200
/// agents it holds about 10; the limits allow 64 frames of 1 MiB (64 MiB) at once, or one
/// frame, its parsed calls and an answer of 4 MiB. Without the limits, the same clients took
/// it past 400 MiB (unfinished frames) and 2 GiB (a batch's answers).
const MEMORY_BOUND_MIB: u64 = 96;

#[tokio::test]
async fn a_batch_whose_answers_would_be_huge_is_cut_at_the_limit() {
    // Batches as large as the client likes, so that the answer's limit is what holds.
    let server = Server::start("max_batch=5000").await;
    let mut socket = handshake(server.url()).await.unwrap();
    for batch in 0..4 {
        call(&mut socket, creates(&format!("b{batch}-"), 50)).await;
    }
    let before = server.peak_mib();
    // 5,000 lists of 200 agents: a 205 KB frame whose answers would take about 250 MB.
    let batch: Value = (0..5000)
        .map(|id| json!({ "jsonrpc": "2.0", "id": id, "method": "list" }))
        .collect();
    socket.send(Message::text(batch.to_string())).await.unwrap();
    let frame = timeout(PATIENCE, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Text(text) = frame else {
        panic!("not an answer: {frame:?}")
    };
    // At most the limit, and one short error (with its id) for each call not answered.
    assert!(text.len() <= (4 << 20) + 5000 * 250, "{} bytes", text.len());
    let answers: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(answers.len(), 5000);
    let results = answers
        .iter()
        .take_while(|a| a.get("result").is_some())
        .count();
    assert!(results > 10 && results < 5000, "{results} results");
    assert_eq!(answers[results]["error"]["code"], -32020);
    assert!(
        answers[results + 1..]
            .iter()
            .all(|a| a["error"]["code"] == -32021)
    );
    assert_eq!(answers[4999]["id"], 4999);

    let peak = server.peak_mib();
    assert!(
        peak < MEMORY_BOUND_MIB,
        "the server held {peak} MiB (from {before} before the batch)"
    );
    // It carries on.
    assert_eq!(
        list(&mut socket).await["result"]["agents"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
}

#[tokio::test]
async fn unfinished_frames_do_not_hold_memory() {
    let server = Server::start("").await;
    let before = server.peak_mib();
    // 100 connections each sending 4 MB of a frame it never finishes.
    let chunk = Arc::new(vec![b'x'; 4_000_000]);
    let clients = (0..100).map(|_| {
        let (addr, token, chunk) = (server.addr.clone(), server.token.clone(), chunk.clone());
        tokio::spawn(async move {
            let mut stream = raw_connection(&addr, &token).await?;
            stream.write_all(&frame_header(4_000_001)).await.ok()?;
            // The server may close as soon as it reads the header.
            let _ = timeout(PATIENCE, stream.write_all(&chunk)).await;
            Some(stream)
        })
    });
    let streams: Vec<_> = futures::future::join_all(clients).await;
    let peak = server.peak_mib();
    assert!(
        peak < MEMORY_BOUND_MIB,
        "the server held {peak} MiB (from {before} before the frames)"
    );
    drop(streams);
    let mut socket = handshake(server.url()).await.unwrap();
    assert_eq!(list(&mut socket).await["result"]["agents"], json!([]));
}

/// The server the memory tests start as a child process (see the module's docs); nothing
/// when run otherwise. `PLAN_CONTROL_SECURITY_SERVER` holds its limits, `name=value` separated
/// by commas (`max_batch`, `frame_timeout_ms`); `PLAN_CONTROL_TOKEN` its token. It prints
/// `control: ws://ADDR/rpc?token=TOKEN` and serves until its standard input closes.
#[test]
#[ignore = "the server of the memory tests, which they run as a child process"]
fn server_process() {
    let Some(limits) = std::env::var_os(SERVER) else {
        return;
    };
    let limits = limits.into_string().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let token = Token::from_env("PLAN_CONTROL_TOKEN").unwrap().unwrap();
        let mut control = Control::new(agents().await, token.clone());
        for limit in limits.split(',').filter(|limit| !limit.is_empty()) {
            let (name, value) = limit.split_once('=').unwrap();
            let value: u64 = value.parse().unwrap();
            control = match name {
                "max_batch" => control.max_batch(value as usize),
                "frame_timeout_ms" => control.frame_timeout(Duration::from_millis(value)),
                _ => panic!("no limit `{name}`"),
            };
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!(
            "control: {}",
            url(&listener.local_addr().unwrap().to_string(), &token)
        );
        tokio::spawn(control.serve(listener));
    });
    // Until the test is gone.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// Fuzzing over a real socket (the frame handler's own fuzzing is in the crate): arbitrary
/// text frames to one connection, each followed by a `list` to know when its replies are
/// all in. Every reply is a JSON-RPC response or an array of them, and the connection stays.
#[test]
fn arbitrary_frames_over_a_socket() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let socket = runtime.block_on(async {
        let (addr, token) = serve(|control| control.max_response(2_000).max_batch(8)).await;
        handshake(url(&addr, &token)).await.unwrap()
    });
    // The runner takes a `Fn`; the cases run one after the other.
    let socket = tokio::sync::Mutex::new(socket);
    let frames = prop_oneof![
        ".{0,200}",
        prop::collection::vec(
            prop_oneof![
                Just(r#"{"jsonrpc":"2.0","id":1,"method":"list"}"#.to_owned()),
                Just(
                    r#"{"jsonrpc":"2.0","method":"create","params":{"name":"x","kind":"counter"}}"#
                        .to_owned()
                ),
                "[a-z\"{}:,0-9]{0,30}",
            ],
            0..12
        )
        .prop_map(|calls| format!("[{}]", calls.join(","))),
    ];
    let mut runner = TestRunner::new(Config::default());
    runner
        .run(&frames, |text| {
            let replies = runtime.block_on(async {
                let mut socket = socket.lock().await;
                socket.send(Message::text(text)).await.unwrap();
                let probe = json!({ "jsonrpc": "2.0", "id": "probe", "method": "status", "params": { "agent": "x" } });
                socket.send(Message::text(probe.to_string())).await.unwrap();
                let mut replies = Vec::new();
                loop {
                    let reply = match timeout(PATIENCE, socket.next()).await {
                        Ok(Some(Ok(Message::Text(reply)))) => reply,
                        other => panic!("the connection broke: {other:?}"),
                    };
                    let reply: Value = serde_json::from_str(&reply).unwrap();
                    if reply["id"] == "probe" {
                        return replies;
                    }
                    replies.push(reply);
                }
            });
            for reply in replies {
                let responses = match reply {
                    Value::Array(responses) => responses,
                    response => vec![response],
                };
                for response in responses {
                    prop_assert_eq!(&response["jsonrpc"], "2.0");
                    prop_assert!(response.get("id").is_some());
                    prop_assert!(
                        response.get("result").is_some() != response.get("error").is_some(),
                        "{}",
                        response
                    );
                    if let Some(error) = response.get("error") {
                        prop_assert!(error["code"].is_i64() && error["message"].is_string());
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}
