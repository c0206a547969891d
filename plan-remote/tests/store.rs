//! The NATS store against real `nats-server`s with JetStream on 127.0.0.1, each test's own on
//! free ports: the conformance suite (one server per property); keys NATS does not allow,
//! written in code; a server killed under a live store, which fails within seconds and works
//! again when the server is back; a server that is not there or has no JetStream; passwords,
//! never shown; entries another client wrote, which are corrupt; and a cluster of three that
//! loses the bucket's leader, and then the next one, without losing a write.

use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use plan_remote::nats::{NatsStore, NatsStoreConfig};
use plan_state::store::{Key, Store, StoreError};
use plan_state::store_conformance;
use serde_json::json;
use test_support::free_port;
use test_support::nats::{NatsCluster, NatsServer};

fn key(k: &str) -> Key {
    Key::new(k).unwrap()
}

async fn fresh() -> (NatsStore, NatsServer) {
    let server = NatsServer::start();
    (NatsStore::connect(&server.url()).await.unwrap(), server)
}

store_conformance!(conformance, fresh());

/// How long any operation on a server that is gone may take: the store's bound (the
/// timeout), with room for a loaded machine.
const BOUND: Duration = Duration::from_secs(15);

/// `operation`'s result, which must come within [`BOUND`].
async fn within_bound<T>(operation: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, operation)
        .await
        .unwrap_or_else(|_| panic!("no answer within {BOUND:?}"))
}

/// The bucket of the default configuration, as a raw NATS client sees it.
async fn raw_bucket(url: &str) -> kv::Store {
    let client = async_nats::connect(url).await.unwrap();
    jetstream::new(client)
        .get_key_value("plan-state")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_nats_does_not_allow_round_trip_in_code_and_list_by_prefix() {
    let server = NatsServer::start();
    let store = NatsStore::connect(&server.url()).await.unwrap();
    assert_eq!(
        store.name(),
        format!("nats 127.0.0.1:{} bucket plan-state", server.port())
    );
    let odd = [
        "a:b", "a.b", "a..b", "v1.", "x:y/z.w", "a-b_c", "a/b", "urn:x:1", "a",
    ];
    for (i, k) in odd.iter().enumerate() {
        assert_eq!(store.put(&key(k), &json!(i)).await.unwrap(), 1, "{k}");
    }
    for (i, k) in odd.iter().enumerate() {
        let got = store.get(&key(k)).await.unwrap().unwrap();
        assert_eq!((got.value, got.version), (json!(i), 1), "{k}");
    }
    let listed =
        |keys: Vec<plan_state::store::Key>| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    let mut all = odd.map(str::to_owned).to_vec();
    all.sort();
    assert_eq!(listed(store.keys("").await.unwrap()), all);
    // Prefixes that end inside a character NATS does not allow, or right after one.
    assert_eq!(listed(store.keys("a.").await.unwrap()), ["a..b", "a.b"]);
    assert_eq!(listed(store.keys("a:").await.unwrap()), ["a:b"]);
    assert_eq!(listed(store.keys("x:y/").await.unwrap()), ["x:y/z.w"]);
    assert_eq!(listed(store.keys("a").await.unwrap()).len(), 6);
    assert!(store.keys("a=").await.unwrap().is_empty());
    assert!(store.keys("é").await.unwrap().is_empty());

    // In the bucket, each is a NATS key: the code.
    let raw = raw_bucket(&server.url()).await;
    let entry = raw.get("x=3Ay/z=2Ew").await.unwrap().unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&entry).unwrap();
    assert_eq!(entry, json!({ "version": 1, "value": 4 }));

    // A deleted key is created again, at version 1, by a compare-and-set on nothing.
    assert!(store.delete(&key("a.b")).await.unwrap());
    assert_eq!(store.get(&key("a.b")).await.unwrap(), None);
    assert_eq!(
        store
            .compare_and_set(&key("a.b"), None, &json!("again"))
            .await
            .unwrap(),
        Ok(1)
    );

    // A second store over a connection of its own sees the same keys, and names the server
    // as the server gives its address.
    let client = async_nats::connect(server.url()).await.unwrap();
    let shared = NatsStore::with_client(client, NatsStoreConfig::default())
        .await
        .unwrap();
    assert_eq!(shared.name(), store.name());
    assert_eq!(listed(shared.keys("").await.unwrap()), all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_a_live_store_fails_each_operation_in_seconds_then_works_again() {
    let mut server = NatsServer::start();
    let config = NatsStoreConfig {
        timeout: Duration::from_secs(2),
        ..NatsStoreConfig::default()
    };
    let store = NatsStore::connect_with(&server.url(), config)
        .await
        .unwrap();
    let k = key("agents/ada/state");
    store.put(&k, &json!({ "turns": 1 })).await.unwrap();
    server.kill();

    let at = format!(
        "`agents/ada/state` in nats 127.0.0.1:{} bucket plan-state failed",
        server.port()
    );
    for round in 0..2 {
        let started = Instant::now();
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
        let err = within_bound(store.delete(&k)).await.unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("delete of {at}")),
            "{round}: {err}"
        );
        let err = within_bound(store.keys("agents/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Backend {
                    operation: "list",
                    ..
                }
            ),
            "{round}: {err:?}"
        );
        println!("round {round}: four failures in {:?}", started.elapsed());
    }

    // Back, with its store: the same store value reconnects by itself and finds the value.
    server.restart();
    let found = eventually("a read after the restart", || store.get(&k)).await;
    assert_eq!(found.unwrap().value, json!({ "turns": 1 }));
    assert_eq!(store.put(&k, &json!({ "turns": 2 })).await.unwrap(), 2);
}

#[tokio::test]
async fn connecting_to_no_server_fails_within_seconds_naming_the_store() {
    let port = free_port(); // free: nothing listens there
    let err = within_bound(NatsStore::connect(&format!("nats://127.0.0.1:{port}")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let expected = format!("cannot open nats 127.0.0.1:{port} bucket plan-state: ");
    assert!(err.to_string().starts_with(&expected), "{err}");
}

#[tokio::test]
async fn a_server_without_jetstream_is_refused_at_open() {
    let server = NatsServer::without_jetstream();
    let err = within_bound(NatsStore::connect(&server.url()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains(": no JetStream: "), "{err}");
}

#[tokio::test]
async fn a_bad_configuration_is_refused_before_connecting() {
    let nowhere = "nats://127.0.0.1:1";
    for (config, reason) in [
        (
            NatsStoreConfig {
                bucket: "has.dots".to_owned(),
                ..NatsStoreConfig::default()
            },
            "bad bucket name `has.dots`",
        ),
        (
            NatsStoreConfig {
                replicas: 0,
                ..NatsStoreConfig::default()
            },
            "0 replicas: a bucket has 1 to 5",
        ),
        (
            NatsStoreConfig {
                replicas: 7,
                ..NatsStoreConfig::default()
            },
            "7 replicas: a bucket has 1 to 5",
        ),
        (
            NatsStoreConfig {
                timeout: Duration::ZERO,
                ..NatsStoreConfig::default()
            },
            "a timeout of zero",
        ),
    ] {
        let err = NatsStore::connect_with(nowhere, config).await.unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains(reason), "{err}");
    }
}

/// A `nats-server` with JetStream that admits only clients with `auth` (its flags).
fn server_with(auth: &[&str]) -> (test_support::Server, test_support::TempDir) {
    let port = free_port();
    let store = test_support::temp_dir("nats-auth");
    let mut command = std::process::Command::new("nats-server");
    command.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"]);
    command.arg(store.path()).args(auth);
    (test_support::Server::start(command, port), store)
}

#[tokio::test]
async fn credentials_in_the_url_are_used_and_never_shown() {
    let (server, _store) = server_with(&["--user", "app", "--pass", "right/secret"]);
    let port = server.port();
    let err = within_bound(NatsStore::connect(&format!(
        "nats://app:wrong-secret@127.0.0.1:{port}"
    )))
    .await
    .unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("wrong-secret"), "{shown}");
        assert!(
            shown.contains(&format!("nats 127.0.0.1:{port} bucket plan-state")),
            "{shown}"
        );
    }

    // Percent-encoded in the URL, as a `/` in a password must be.
    let store = NatsStore::connect(&format!("nats://app:right%2Fsecret@127.0.0.1:{port}"))
        .await
        .unwrap();
    assert_eq!(
        store.name(),
        format!("nats 127.0.0.1:{port} bucket plan-state")
    );
    assert!(!format!("{store:?}").contains("secret"));
    store.put(&key("k"), &json!(1)).await.unwrap();
    drop(server);
    let err = within_bound(store.get(&key("k"))).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("secret"), "{err:?}");

    // A token alone.
    let (server, _store) = server_with(&["--auth", "s3cr3t-token"]);
    let url = format!("nats://s3cr3t-token@127.0.0.1:{}", server.port());
    let store = NatsStore::connect(&url).await.unwrap();
    assert_eq!(store.put(&key("k"), &json!(1)).await.unwrap(), 1);
    assert!(!store.name().contains("s3cr3t"));

    // A URL that does not parse is not shown at all: the password may be what broke it.
    let err = NatsStore::connect("nats://app:pass-word@127.0.0.1:not-a-port")
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("pass-word"), "{shown}");
    assert!(
        shown.starts_with("cannot open nats at a URL that does not parse"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_another_client_wrote_are_corrupt_and_not_overwritten() {
    let server = NatsServer::start();
    let store = NatsStore::connect(&server.url()).await.unwrap();
    let name = store.name().to_owned();
    let raw = raw_bucket(&server.url()).await;
    for (k, entry, reason) in [
        ("not-json", "[1, 2", "EOF while parsing a list"),
        ("no-version", r#"{"value": 1}"#, "missing field `version`"),
        ("no-value", r#"{"version": 4}"#, "missing field `value`"),
        (
            "text-version",
            r#"{"version": "2", "value": 1}"#,
            "invalid type",
        ),
        (
            "version-0",
            r#"{"version": 0, "value": 1}"#,
            "its version is 0",
        ),
        (
            "version-past-the-largest",
            r#"{"version": 9223372036854775808, "value": 1}"#,
            "its version is 9223372036854775808",
        ),
    ] {
        raw.put(k, entry.to_owned().into()).await.unwrap();
        let err = store.get(&key(k)).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{k}: {err:?}");
        let expected = format!("the value under `{k}` in {name} is not valid: ");
        assert!(err.to_string().starts_with(&expected), "{k}: {err}");
        assert!(err.to_string().contains(reason), "{k}: {err}");
        // A write refuses too, and writes nothing.
        let err = store.put(&key(k), &json!(2)).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{k}: {err:?}");
        assert_eq!(raw.get(k).await.unwrap().unwrap(), entry.as_bytes());
    }

    // At the largest version, a write is refused and nothing is written.
    let largest = r#"{"version":9223372036854775807,"value":1}"#;
    raw.put("big", largest.to_owned().into()).await.unwrap();
    let got = store.get(&key("big")).await.unwrap().unwrap();
    assert_eq!(got.version, i64::MAX as u64);
    let err = store.put(&key("big"), &json!(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("the largest a store keeps"),
        "{err}"
    );
    assert_eq!(raw.get("big").await.unwrap().unwrap(), largest.as_bytes());

    // A key that is the code of no key fails the listings it falls in, naming it.
    raw.put("stray.key", "1".into()).await.unwrap();
    let err = store.keys("").await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "the value under `stray.key` in {name} is not valid"
        )),
        "{err}"
    );
    assert_eq!(store.keys("big").await.unwrap(), [key("big")]);
}

/// `operation`'s first success, tried again while it fails, for up to a minute: through a
/// cluster's elections of new leaders after a node is lost.
async fn eventually<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    what: &str,
    mut operation: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match operation().await {
            Ok(done) => return done,
            Err(e) if Instant::now() < deadline => {
                println!("{what}: {e}, trying again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{what}: still failing after a minute: {e}"),
        }
    }
}

/// Every value written, read back from `store`, and every key listed.
async fn all_there(store: &NatsStore, written: &[(String, serde_json::Value)]) {
    for (k, value) in written {
        let k = key(k);
        let read = eventually(&format!("the read of {k}"), || store.get(&k)).await;
        assert_eq!(read.map(|r| r.value).as_ref(), Some(value), "{k}");
    }
    let listed = eventually("the listing", || store.keys("")).await;
    let mut expected: Vec<_> = written.iter().map(|(k, _)| key(k)).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

/// The node that leads the bucket's stream, by the servers' names (node `i` is `n{i}`), once
/// it has one: an election may be under way.
async fn bucket_leader(urls: &str) -> usize {
    let client = async_nats::connect(urls.split(',').collect::<Vec<_>>())
        .await
        .unwrap();
    let jetstream = jetstream::new(client);
    eventually("the bucket's leader", || async {
        type Error = Box<dyn std::error::Error + Send + Sync>;
        let mut stream = jetstream
            .get_stream("KV_plan-state")
            .await
            .map_err(Error::from)?;
        let info = stream.info().await.map_err(Error::from)?;
        let leader = info.cluster.as_ref().and_then(|c| c.leader.as_deref());
        leader
            .and_then(|name| name.strip_prefix('n')?.parse().ok())
            .ok_or_else(|| Error::from(format!("no leader: {leader:?}")))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_three_keeps_every_write_through_the_loss_of_its_leaders() {
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3);
    println!("the cluster formed in {:?}", started.elapsed());
    let config = NatsStoreConfig {
        replicas: 3,
        timeout: Duration::from_secs(3),
        ..NatsStoreConfig::default()
    };
    let store = NatsStore::connect_with(&cluster.urls(), config)
        .await
        .unwrap();
    let mut written = Vec::new();
    for i in 0..10 {
        let k = format!("before/{i}");
        store.put(&key(&k), &json!(i)).await.unwrap();
        written.push((k, json!(i)));
    }

    // The bucket's leader dies: the other two elect one of them, and go on; a write is
    // tried again until they have.
    let first = bucket_leader(&cluster.urls()).await;
    cluster.kill(first);
    let killed = Instant::now();
    for i in 0..10 {
        let (k, value) = (key(&format!("after/{i}")), json!({ "i": i }));
        eventually(&format!("the write of {k}"), || store.put(&k, &value)).await;
        written.push((k.to_string(), value));
    }
    println!("node {first} killed, ten writes in {:?}", killed.elapsed());
    all_there(&store, &written).await;
    let counter = key("counter");
    for n in 0..5 {
        let now = store.get(&counter).await.unwrap();
        let version = now.as_ref().map(|v| v.version);
        let written = store.compare_and_set(&counter, version, &json!(n)).await;
        assert_eq!(written.unwrap(), Ok(n + 1));
    }
    written.push(("counter".to_owned(), json!(4)));

    // The first back, and the bucket's leader dies again: two are left, one of them the
    // first, with every value (whichever leads now, the first caught up or catches up).
    cluster.restart(first);
    let second = bucket_leader(&cluster.urls()).await;
    cluster.kill(second);
    let killed = Instant::now();
    all_there(&store, &written).await;
    println!(
        "node {second} killed, every value read in {:?}",
        killed.elapsed()
    );
    assert_eq!(store.get(&counter).await.unwrap().unwrap().version, 5);
}
