//! The NATS bus against a real `nats-server` with JetStream on 127.0.0.1 — the one
//! `PLAN_AGENTS_NATS_URL` names, or one each test starts on a free port: the conformance
//! suite, a consumer whose whole process dies, servers that are down, die, or lack
//! JetStream, and a reactive loop over a mailbox.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::name;
use plan_agents::bus::nats::NatsConfig;
use plan_agents::bus::{Bus, BusError, Consumer, Delivery, Message, Name, Nats, Subscription};
use plan_agents::bus_conformance;
use plan_agents::reactive::{EventOutcome, Reactive};
use plan_agents::testkit::{LIMITS, PATIENCE, stays_pending, within};
use plan_runtime::prelude::*;
use plan_state::store::JsonFiles;
use test_support::nats::NatsServer;
use test_support::{free_port, temp_dir};

/// A namespace of this test's own, so that tests sharing a server share no stream.
fn config() -> NatsConfig {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NatsConfig {
        namespace: format!(
            "t{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ),
        limits: LIMITS,
        ..NatsConfig::default()
    }
}

/// A bus on `PLAN_AGENTS_NATS_URL`'s server, or on a server of its own (returned with it).
async fn bus() -> (Nats, Option<NatsServer>) {
    let config = config();
    if let Ok(url) = std::env::var("PLAN_AGENTS_NATS_URL") {
        return (Nats::connect_with(&url, config).await.unwrap(), None);
    }
    let server = NatsServer::start();
    let bus = Nats::connect_with(&server.url(), config).await.unwrap();
    (bus, Some(server))
}

bus_conformance!(
    conformance,
    bus(),
    flavor = "multi_thread",
    worker_threads = 2
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_process_dies_has_its_message_redelivered_to_another_process() {
    let server = NatsServer::start();
    let (url, config, mailbox) = (server.url(), config(), name("jobs"));
    let survivor = Nats::connect_with(&url, config.clone()).await.unwrap();
    let mut survivor_consumer = survivor.consume(&mailbox).await.unwrap();
    survivor.send(&mailbox, Message::new("job")).await.unwrap();
    // The doomed "process": a runtime of its own, whose connection dies with it while it
    // holds the delivery, with nothing left to nack it.
    let doomed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let held = runtime.block_on(async {
            let bus = Nats::connect_with(&url, config).await.unwrap();
            let mut consumer = bus.consume(&mailbox).await.unwrap();
            consumer.recv().await.unwrap()
        });
        runtime.shutdown_background();
        let attempt = held.attempt();
        drop(held); // no runtime here: its drop cannot reach the server
        attempt
    });
    assert_eq!(doomed.join().unwrap(), 1);
    let started = Instant::now();
    let again = within("the redelivery", survivor_consumer.recv())
        .await
        .unwrap();
    // It waited for the ack deadline: nobody told the server of the failure.
    assert!(
        started.elapsed() * 2 >= LIMITS.ack_deadline,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (again.attempt(), again.message().payload().as_ref()),
        (2, &b"job"[..])
    );
    again.ack().await.unwrap();
}

#[tokio::test]
async fn a_server_that_is_down_is_a_clear_error_in_bounded_time() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let config = NatsConfig {
        timeout: Duration::from_secs(2),
        ..config()
    };
    let started = Instant::now();
    let err = Nats::connect_with(&url, config).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.to_string()
            .starts_with(&format!("nats bus: connect to `{url}` failed")),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_without_jetstream_is_refused_at_connect() {
    let server = NatsServer::without_jetstream();
    let err = Nats::connect_with(&server.url(), config())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("nats bus: connect to"), "{text}");
    assert!(text.contains("no JetStream"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_dies_under_a_live_bus_fails_each_operation_in_bounded_time() {
    let server = NatsServer::start();
    let config = NatsConfig {
        timeout: Duration::from_secs(2),
        ..config()
    };
    let bus = Nats::connect_with(&server.url(), config).await.unwrap();
    let mailbox = name("orders");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    bus.send(&mailbox, Message::new("before")).await.unwrap();
    consumer.recv().await.unwrap().ack().await.unwrap();
    drop(server);

    let bounded = Duration::from_secs(10);
    let started = Instant::now();
    let err = bus.send(&mailbox, Message::new("after")).await.unwrap_err();
    assert!(started.elapsed() < bounded, "{:?}", started.elapsed());
    assert!(
        matches!(
            err,
            BusError::Backend {
                backend: "nats",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`orders`"), "{err}");

    let started = Instant::now();
    let err = consumer.recv().await.unwrap_err();
    assert!(started.elapsed() < bounded, "{:?}", started.elapsed());
    assert!(
        err.to_string()
            .starts_with("nats bus: receive from `orders` failed"),
        "{err}"
    );

    let err = bus
        .request(&name("adder"), Message::new("1"), PATIENCE)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("nats bus: request on `adder` failed"),
        "{err}"
    );
}

#[test]
fn handles_dropped_outside_a_runtime_do_not_panic() {
    let server = NatsServer::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handles = runtime.block_on(async {
        let bus = Nats::connect_with(&server.url(), config()).await.unwrap();
        let subscription = bus.subscribe(&name("t")).await.unwrap();
        let consumer = bus.consume(&name("m")).await.unwrap();
        let responder = bus.serve(&name("s")).await.unwrap();
        (bus, subscription, consumer, responder)
    });
    drop(handles);
    drop(runtime);
}

#[tokio::test]
async fn a_bad_namespace_is_refused_before_connecting() {
    let config = NatsConfig {
        namespace: "has.dots".to_owned(),
        ..NatsConfig::default()
    };
    let err = Nats::connect_with("nats://127.0.0.1:1", config)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("bad bus name `has.dots`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reactive_loop_over_a_mailbox_runs_each_id_once_and_publishes_every_outcome() {
    fn double(n: u64) -> u64 {
        n * 2
    }
    let (bus, _server) = bus().await;
    let (inbox, done) = (name("numbers"), name("doubled"));
    let dir = temp_dir("nats-reactive");
    let reactor = Reactive::new(name("doubler"), plan! { double })
        .concurrency(2)
        .persist(JsonFiles::open(dir.path()).unwrap())
        .publish(bus.clone(), done.clone());
    let mut outcomes = bus.subscribe(&done).await.unwrap();
    for (id, body) in [("a", "21"), ("a", "21"), ("b", "{")] {
        let event = Message::new(body).with_header("id", id).unwrap();
        bus.send(&inbox, event).await.unwrap();
    }
    let stop = CancellationToken::new();
    let watching = reactor
        .watch_mailbox(bus.consume(&inbox).await.unwrap())
        .with_graceful_shutdown(stop.clone().cancelled_owned());
    let (summary, mut published) = tokio::join!(watching, async {
        let mut published = Vec::new();
        for _ in 0..3 {
            let message = within("an outcome", outcomes.recv()).await.unwrap();
            published.push(message.decode::<EventOutcome<u64>>().unwrap());
        }
        stop.cancel();
        published
    });
    let summary = summary.unwrap();
    assert_eq!(
        (summary.succeeded, summary.failed, summary.duplicates),
        (1, 1, 1)
    );
    // The second `a` waited for the first, then published its recorded outcome again.
    published.sort_by(|x, y| x.event.cmp(&y.event));
    assert_eq!(
        published[0],
        EventOutcome {
            event: "a".into(),
            result: Ok(42)
        }
    );
    assert_eq!(published[0], published[1]);
    let bad = published[2].result.as_ref().unwrap_err();
    assert!(
        bad.starts_with("bad event: cannot decode the message on `numbers`"),
        "{bad}"
    );
    // Every event was acked.
    let mut after = bus.consume(&inbox).await.unwrap();
    stays_pending("an event left in the mailbox", after.recv()).await;
    assert!(bus.dead_letters(&inbox).await.unwrap().is_empty());
}

/// Asserts that `result` is the refusal, before sending, of a message of `size` bytes on
/// `subject`, over `limit`.
fn too_large<T: std::fmt::Debug>(
    result: Result<T, BusError>,
    subject: &Name,
    size: usize,
    limit: usize,
) {
    let error = result.unwrap_err();
    assert!(
        matches!(&error, BusError::TooLarge { subject: s, size: z, limit: l }
            if s == subject.as_str() && *z == size && *l == limit),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_servers_max_payload_is_refused_before_sending_and_the_bus_goes_on() {
    const MAX_PAYLOAD: usize = 4_096;
    let server = NatsServer::with_config(&format!("max_payload: {MAX_PAYLOAD}\n"));
    // The bus's own limit, 1 MiB, is larger: the server's is the one that counts.
    let bus = Nats::connect_with(&server.url(), config()).await.unwrap();
    let (mailbox, topic, subject) = (name("jobs"), name("news"), name("ask"));
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    let mut subscriber = bus.subscribe(&topic).await.unwrap();
    let over = Message::new(vec![b'x'; MAX_PAYLOAD + 1]);
    too_large(
        bus.send(&mailbox, over.clone()).await,
        &mailbox,
        MAX_PAYLOAD + 1,
        MAX_PAYLOAD,
    );
    too_large(
        bus.publish(&topic, over.clone()).await,
        &topic,
        MAX_PAYLOAD + 1,
        MAX_PAYLOAD,
    );
    let deadline = Duration::from_secs(5);
    too_large(
        bus.request(&subject, over, deadline).await,
        &subject,
        MAX_PAYLOAD + 1,
        MAX_PAYLOAD,
    );
    // Headers count as NATS frames them: `NATS/1.0`, a line each and a blank line, each
    // line ending in CRLF. The priority is a header (`Plan-Priority: 9`).
    let framed = Message::new(vec![b'x'; MAX_PAYLOAD - 20]).with_priority(9);
    let size = MAX_PAYLOAD - 20 + "NATS/1.0\r\n\r\n".len() + "Plan-Priority: 9\r\n".len();
    too_large(
        bus.send(&mailbox, framed).await,
        &mailbox,
        size,
        MAX_PAYLOAD,
    );

    // The connection is as it was: a message at the limit goes through.
    let at = Message::new(vec![b'y'; MAX_PAYLOAD]);
    within("a send", bus.send(&mailbox, at.clone()))
        .await
        .unwrap();
    within("a publish", bus.publish(&topic, at)).await.unwrap();
    let delivery = within("the delivery", consumer.recv()).await.unwrap();
    assert_eq!(delivery.message().payload().len(), MAX_PAYLOAD);
    delivery.ack().await.unwrap();
    let message = within("the message", subscriber.recv()).await.unwrap();
    assert_eq!(message.payload().len(), MAX_PAYLOAD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_buss_own_limit_is_refused_on_nats_too() {
    let (bus, server) = bus().await;
    let mut config = bus.config().clone();
    config.limits.max_message = 1_000;
    let url =
        std::env::var("PLAN_AGENTS_NATS_URL").unwrap_or_else(|_| server.as_ref().unwrap().url());
    let bus = Nats::connect_with(&url, config).await.unwrap();
    let mailbox = name("jobs");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    let header = |size| {
        Message::new(vec![b'x'; size])
            .with_header("k", "v")
            .unwrap()
    };
    too_large(
        bus.send(&mailbox, header(999)).await,
        &mailbox,
        1_001,
        1_000,
    );
    let deadline = Duration::from_secs(5);
    let subject = name("ask");
    too_large(
        bus.request(&subject, header(999), deadline).await,
        &subject,
        1_001,
        1_000,
    );
    within("a send", bus.send(&mailbox, header(998)))
        .await
        .unwrap();
    let delivery = within("the delivery", consumer.recv()).await.unwrap();
    assert_eq!(delivery.message().size(), 1_000);
    delivery.ack().await.unwrap();
}
