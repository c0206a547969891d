//! The Redis store against a real `redis-server` on 127.0.0.1 — the one `.ci/run` starts
//! (`PLAN_STATE_REDIS_URL`), or one the test starts on a free port: the conformance suite (one
//! test per property, each on a database or a server of its own); a
//! server killed under a live store, which fails within seconds and reconnects when the
//! server is back; a server that is not there; passwords, never shown; and values that
//! another client wrote, which are corrupt.

mod common;

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use common::key;
use plan_runtime::prelude::*;
use plan_state::persist::{Persist, PersistError};
use plan_state::store::{Redis, Store, StoreError};
use plan_state::store_conformance;
use serde_json::json;
use test_support::free_port;

/// A `redis-server` of the test's own (no persistence), killed when dropped.
struct Server(test_support::Server);

impl Server {
    fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    fn start_with(port: u16, options: &[&str]) -> Self {
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(options);
        Server(test_support::Server::start(command, port))
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.0.port())
    }
}

/// A store for one conformance test: on `PLAN_STATE_REDIS_URL`'s server (a URL without a
/// database number), in a database of the test's own, emptied first, since the tests run at
/// once and the server outlives earlier runs; elsewhere on a server of the test's own.
async fn fresh() -> (Redis, Option<Server>) {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    if let Ok(url) = std::env::var("PLAN_STATE_REDIS_URL") {
        // Databases 1 to 15 of the default 16: one per property of the suite.
        let db = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(db < 16, "more conformance tests than Redis databases");
        let store = Redis::connect(&format!("{}/{db}", url.trim_end_matches('/')))
            .await
            .unwrap();
        for key in store.keys("").await.unwrap() {
            store.delete(&key).await.unwrap();
        }
        return (store, None);
    }
    let server = Server::start(free_port());
    (Redis::connect(&server.url()).await.unwrap(), Some(server))
}

store_conformance!(conformance, fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_reconnects_when_the_server_comes_back() {
    let port = free_port();
    let server = Server::start(port);
    let store = Redis::connect(&server.url()).await.unwrap();
    let k = key("agents/ada/state");
    store.put(&k, &json!(1)).await.unwrap();

    drop(server); // SIGKILL: the server and its (unsaved) data are gone
    let err = store.get(&k).await.unwrap_err();
    let expected = format!("read of `agents/ada/state` in redis 127.0.0.1:{port} failed");
    assert!(err.to_string().starts_with(&expected), "{err}");

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

/// How long any operation on a server that is gone may take: the store's bound (a few
/// seconds), with room for a loaded machine.
const BOUND: Duration = Duration::from_secs(15);

/// `operation`'s result, which must come within [`BOUND`].
async fn within_bound<T>(operation: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, operation)
        .await
        .unwrap_or_else(|_| panic!("no answer within {BOUND:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_gone_fails_every_operation_within_seconds_naming_key_and_store() {
    let port = free_port();
    let server = Server::start(port);
    let store = Redis::connect(&server.url()).await.unwrap();
    assert_eq!(store.name(), format!("redis 127.0.0.1:{port}"));
    let k = key("agents/ada/state");
    store.put(&k, &json!({ "turns": 1 })).await.unwrap();
    drop(server);

    let at = format!("`agents/ada/state` in redis 127.0.0.1:{port} failed");
    // Again and again: the first operation finds the connection gone, the next ones wait
    // for reconnections that fail.
    for round in 0..3 {
        let err = within_bound(store.get(&k)).await.unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("read of {at}")),
            "{round}: {err}"
        );
        let err = within_bound(store.put(&k, &json!(2))).await.unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("write of {at}")),
            "{round}: {err}"
        );
    }
    // Through the load step, the same error, inside the plan's error naming the step.
    let agents: Persist<serde_json::Value, _> = Persist::new(store).or_default();
    let load = plan! { #[name = "load"] (agents.load()) };
    let err = within_bound(load.run(k)).await.unwrap_err();
    assert_eq!(err.node().name, "load");
    assert!(
        matches!(
            err.step_error::<PersistError>(),
            Some(PersistError::Store(StoreError::Backend {
                operation: "read",
                ..
            }))
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_no_server_fails_within_seconds_naming_the_store() {
    let port = free_port(); // free: nothing listens there
    let err = within_bound(Redis::connect(&format!("redis://127.0.0.1:{port}/3")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let expected = format!("cannot open redis 127.0.0.1:{port}/3: ");
    assert!(err.to_string().starts_with(&expected), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_never_shown() {
    let port = free_port();
    let server = Server::start_with(port, &["--requirepass", "right-secret"]);
    let err = Redis::connect(&format!("redis://:wrong-secret@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("wrong-secret"), "{shown}");
        assert!(
            shown.contains(&format!("redis 127.0.0.1:{port}")),
            "{shown}"
        );
    }

    let store = Redis::connect(&format!("redis://:right-secret@127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(store.name(), format!("redis 127.0.0.1:{port}"));
    assert!(!format!("{store:?}").contains("right-secret"));
    drop(server);
    let err = within_bound(store.get(&key("k"))).await.unwrap_err();
    assert!(
        !format!("{err} {err:?}").contains("right-secret"),
        "{err:?}"
    );

    // A URL that does not parse is not shown at all: the password may be what broke it.
    let err = Redis::connect("redis://:pass-word@127.0.0.1:not-a-port/")
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("pass-word"), "{shown}");
    assert!(
        shown.starts_with("cannot open redis at a URL that does not parse"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_another_client_wrote_are_corrupt_and_not_overwritten() {
    let server = Server::start(free_port());
    let store = Redis::connect(&server.url()).await.unwrap();
    let name = store.name().to_owned();
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let hset = |k: &str, fields: &[(&str, &str)]| {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(format!("plan-state:{k}"));
        for (field, value) in fields {
            cmd.arg(*field).arg(*value);
        }
        cmd
    };
    for (k, fields, reason) in [
        (
            "not-json",
            &[("version", "1"), ("value", "[1, 2")][..],
            "EOF while parsing a list",
        ),
        (
            "text-version",
            &[("version", "two"), ("value", "1")],
            "its version is not a number",
        ),
        ("no-version", &[("value", "1")], "it has no version"),
        (
            "no-value",
            &[("version", "4")],
            "it has a version but no value",
        ),
    ] {
        hset(k, fields).query_async::<()>(&mut raw).await.unwrap();
        let err = store.get(&key(k)).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{k}: {err:?}");
        let expected = format!("the value under `{k}` in {name} is not valid: ");
        assert!(err.to_string().starts_with(&expected), "{k}: {err}");
        assert!(err.to_string().contains(reason), "{k}: {err}");
    }
    // A write over a version that is not a number refuses, and writes nothing.
    let err = store
        .put(&key("text-version"), &json!(2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let value: String = redis::cmd("HGET")
        .arg("plan-state:text-version")
        .arg("value")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(value, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_raised_exactly_up_to_the_largest_and_no_further() {
    let server = Server::start(free_port());
    let store = Redis::connect(&server.url()).await.unwrap();
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut stored = async |k: &str, version: Option<&str>| {
        let key = format!("plan-state:{k}");
        if let Some(version) = version {
            redis::cmd("HSET")
                .arg(&key)
                .arg("version")
                .arg(version)
                .arg("value")
                .arg("1")
                .query_async::<()>(&mut raw)
                .await
                .unwrap();
        }
        redis::cmd("HGET")
            .arg(&key)
            .arg("version")
            .query_async::<String>(&mut raw)
            .await
            .unwrap()
    };

    // Up to the largest version, past 2^53 too, where Lua's numbers are no longer exact:
    // raised by one, exactly.
    for (before, after) in [
        ("999999999999999", 1_000_000_000_000_000u64),
        ("9007199254740993", 9_007_199_254_740_994),
        ("9223372036854775806", 9_223_372_036_854_775_807),
    ] {
        stored("big", Some(before)).await;
        let k = key("big");
        assert_eq!(store.put(&k, &json!(2)).await.unwrap(), after, "{before}");
        assert_eq!(stored("big", None).await, after.to_string());
        assert_eq!(store.get(&k).await.unwrap().unwrap().version, after);
        // A compare-and-set with a version one off conflicts, however close to 2^53.
        let conflict = store
            .compare_and_set(&k, Some(after - 1), &json!(3))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(conflict.current.unwrap().version, after);
    }

    // At the largest version, a write is refused and nothing is written.
    let k = key("big");
    let err = store.put(&k, &json!(4)).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("the largest a store keeps"),
        "{err}"
    );
    assert_eq!(stored("big", None).await, "9223372036854775807");

    // Versions this store never writes: refused by a read and by a write, which writes nothing.
    for version in ["9223372036854775808", "1e3", "05", "+5", "0", "-1", " 7"] {
        stored("odd", Some(version)).await;
        let k = key("odd");
        let err = store.get(&k).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { .. }),
            "{version}: {err:?}"
        );
        let err = store.put(&k, &json!(2)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { .. }),
            "{version}: {err:?}"
        );
        assert_eq!(stored("odd", None).await, version);
    }
}
