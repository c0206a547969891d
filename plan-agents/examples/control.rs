//! The control API: agents behind a WebSocket at `/rpc` speaking JSON-RPC 2.0.
//!
//! ```text
//! cargo run -p plan-agents --example control                           # a short session of a client, printed
//! cargo run -p plan-agents --example control -- --serve 127.0.0.1:7070 # serve until Ctrl-C
//! ```
//!
//! By default the example serves on a free port of 127.0.0.1 and talks to itself as a
//! client would: it creates a counter agent, gives it a task, puts it to sleep until an
//! event, signals the event, lists the agents, sends a request that is not JSON-RPC, and stops
//! the agent, printing every request (`->`) and response (`<-`). It exits 0 once every
//! response was the expected one. With `--serve ADDR` it serves agents of kind `counter`
//! until interrupted, for a client of your own (`websocat "ws://ADDR/rpc?token=TOKEN"`).
//!
//! Whoever holds the token controls the agents. `--serve` takes it from `PLAN_CONTROL_TOKEN`
//! (at least 16 URL-safe characters), or makes a random one, and prints one line
//! `control: ws://ADDR/rpc?token=TOKEN` before serving, for a script to read. Bind loopback
//! (`127.0.0.1`): the token travels in clear over `ws://`, so anything off the machine goes
//! through a reverse proxy with TLS (`wss://`).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use plan_agents::control::{Control, Token};
use plan_agents::session::{Agents, Turn};
use plan_runtime::prelude::*;
use plan_state::store::InMemory;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// A counter's task: counts one.
async fn count(mut turn: Turn<u64>) -> Turn<u64> {
    turn.state += 1;
    turn.output = json!({ "count": turn.state });
    turn
}

async fn agents() -> Result<Agents<InMemory>, Box<dyn std::error::Error>> {
    Ok(Agents::builder(Arc::new(InMemory::new()))
        .kind("counter", plan! { count })
        .start()
        .await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [] => session().await,
        [flag, addr] if flag == "--serve" => serve(addr).await,
        _ => {
            eprintln!("usage: control [--serve ADDR]");
            return ExitCode::from(64);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("control: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let token = Token::from_env("PLAN_CONTROL_TOKEN")?.unwrap_or_else(Token::random);
    let listener = TcpListener::bind(addr).await?;
    let url = format!(
        "ws://{}/rpc?token={}",
        listener.local_addr()?,
        token.expose()
    );
    let control = Control::new(agents().await?, token);
    // One line, flushed, so that a script reading the pipe gets it before any client comes.
    let mut out = std::io::stdout().lock();
    writeln!(out, "control: {url}")?;
    out.flush()?;
    drop(out);
    control.serve(listener).await?;
    Ok(())
}

async fn session() -> Result<(), Box<dyn std::error::Error>> {
    let agents = agents().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let token = Token::random();
    let endpoint = format!("ws://{}/rpc", listener.local_addr()?);
    let url = format!("{endpoint}?token={}", token.expose());
    tokio::spawn(Control::new(agents.clone(), token).serve(listener));
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await?;
    println!("connected to {endpoint} (with its token)");

    let mut id = 0;
    let mut call = async |request: Value| -> Result<Value, Box<dyn std::error::Error>> {
        id += 1;
        let mut request = request;
        request["jsonrpc"] = json!("2.0");
        request["id"] = json!(id);
        println!("-> {request}");
        socket.send(Message::text(request.to_string())).await?;
        loop {
            match socket
                .next()
                .await
                .ok_or("the server closed the socket")??
            {
                Message::Text(text) => {
                    println!("<- {text}");
                    return Ok(serde_json::from_str(&text)?);
                }
                _ => continue,
            }
        }
    };
    let expect = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("unexpected: {what}"))
        }
    };

    call(json!({ "method": "create", "params": { "name": "ada", "kind": "counter" } })).await?;
    call(json!({ "method": "schedule", "params": { "agent": "ada", "task": "count" } })).await?;
    // The task runs at once; wait for it the way a dashboard would, by asking.
    let mut done = false;
    for _ in 0..100 {
        let status = call(json!({ "method": "status", "params": { "agent": "ada" } })).await?;
        if status["result"]["done"] == json!(1) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    expect(done, "the task did not finish")?;
    let asleep = call(json!({ "method": "sleep", "params": { "agent": "ada", "for_ms": 60_000, "events": ["deploy"] } })).await?;
    expect(asleep["result"]["state"] == json!("sleeping"), "not asleep")?;
    let woken = call(json!({ "method": "signal", "params": { "event": "deploy" } })).await?;
    expect(woken["result"]["woken"] == json!(1), "nobody woke")?;
    let list = call(json!({ "method": "list" })).await?;
    expect(
        list["result"]["agents"][0]["state"] == json!("idle"),
        "not idle",
    )?;
    let bad = call(json!({ "method": "launch", "params": {} })).await?;
    expect(
        bad["error"]["code"] == json!(-32601),
        "no method-not-found error",
    )?;
    call(json!({ "method": "stop", "params": { "agent": "ada" } })).await?;
    let count = agents.state("ada").await?;
    println!("ada counted {count}; stopped");
    expect(count == json!(1), "the count")?;
    Ok(())
}
