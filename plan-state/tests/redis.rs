//! The Redis store against a real `redis-server` on 127.0.0.1 — the one `.ci/run` starts
//! (`PLAN_STATE_REDIS_URL`), or one the test starts on a free port: the conformance suite,
//! and a server killed and restarted under a live store, which reconnects.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{conformance, key};
use plan_state::store::{Redis, Store};
use serde_json::json;

/// A `redis-server` of the test's own, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `redis-server` ({e}): install it, e.g. `apt-get install redis-server`")
            });
        let server = Server { child, port };
        server.wait_ready();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Waits (at most 10 s) until the server accepts connections.
    fn wait_ready(&self) {
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_conforms() {
    // `.ci/run` starts a server for the suite; elsewhere the test starts its own.
    if let Ok(url) = std::env::var("PLAN_STATE_REDIS_URL") {
        let store = Redis::connect(&url).await.unwrap();
        // A server shared with earlier runs: start from no keys of this suite.
        for key in store.keys("").await.unwrap() {
            store.delete(&key).await.unwrap();
        }
        return conformance(store).await;
    }
    let server = Server::start(free_port());
    conformance(Redis::connect(&server.url()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_reconnects_when_the_server_comes_back() {
    let port = free_port();
    let server = Server::start(port);
    let store = Redis::connect(&server.url()).await.unwrap();
    let k = key("agents/ada/state");
    store.put(&k, &json!(1)).await.unwrap();

    drop(server); // SIGKILL: the server and its (unsaved) data are gone
    let err = store.get(&k).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("store read of `agents/ada/state` failed"),
        "{err}"
    );

    let _again = Server::start(port);
    // The same store value, without reconnecting by hand (allow it a few tries to notice).
    let mut read = store.get(&k).await;
    for _ in 0..50 {
        if read.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        read = store.get(&k).await;
    }
    assert_eq!(read.unwrap(), None);
    assert_eq!(store.put(&k, &json!(2)).await.unwrap(), 1);
}
