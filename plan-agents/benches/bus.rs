//! The bus's cost over what it is built on.
//!
//! * In process: a topic with 1 and 10 subscribers against tokio's `mpsc` (one channel, and
//!   ten channels, the same bounded queue per subscriber that the bus keeps) and
//!   `broadcast` (one queue for all, which overwrites a lagging subscriber's messages where
//!   the bus waits); a mailbox's send, receive and ack against one `mpsc` channel.
//! * NATS (feature `nats`; a `nats-server` of the bench's own): a mailbox's send (each
//!   awaiting its PubAck), then receive and ack, against `async-nats` doing the same on a
//!   work-queue stream, one pull per message as the bus does it, and in one batch as a
//!   single consumer could.
//!
//! Each iteration moves `N` messages, all fitting in the queues, so that what is measured is
//! the queue, not a wait. Run: `cargo bench -p plan-agents --features nats --bench bus`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use plan_agents::bus::{Bus, BusLimits, Consumer, Delivery, InMemory, Message, Name, Subscription};
use tokio::sync::{broadcast, mpsc};

const N: usize = 1000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn in_memory_bus() -> InMemory {
    InMemory::with_limits(BusLimits {
        capacity: N,
        ..BusLimits::default()
    })
    .unwrap()
}

/// `iters` rounds of: `count` messages sent to `mailbox`, then each received and acked; how
/// long they took.
async fn send_recv_ack<B: Bus>(
    bus: &B,
    consumer: &mut B::Consumer,
    mailbox: &Name,
    payload: &bytes::Bytes,
    count: usize,
    iters: u64,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    for _ in 0..iters {
        for _ in 0..count {
            bus.send(mailbox, Message::new(payload.clone()))
                .await
                .unwrap();
        }
        for _ in 0..count {
            consumer.recv().await.unwrap().ack().await.unwrap();
        }
    }
    start.elapsed()
}

fn topics(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("topic");
    group.throughput(Throughput::Elements(N as u64));
    let topic = Name::new("bench").unwrap();
    let payload = bytes::Bytes::from_static(b"a message of some forty bytes, typical.");
    for subscribers in [1, 10] {
        let bus = in_memory_bus();
        let mut subs: Vec<_> = rt.block_on(async {
            let mut subs = Vec::new();
            for _ in 0..subscribers {
                subs.push(bus.subscribe(&topic).await.unwrap());
            }
            subs
        });
        group.bench_function(BenchmarkId::new("bus", subscribers), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        for _ in 0..N {
                            bus.publish(&topic, Message::new(payload.clone()))
                                .await
                                .unwrap();
                        }
                        for sub in subs.iter_mut() {
                            for _ in 0..N {
                                sub.recv().await.unwrap();
                            }
                        }
                    }
                    start.elapsed()
                })
            })
        });

        let (senders, mut receivers): (Vec<_>, Vec<_>) =
            (0..subscribers).map(|_| mpsc::channel(N)).unzip();
        group.bench_function(BenchmarkId::new("mpsc", subscribers), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        for _ in 0..N {
                            for sender in &senders {
                                sender.send(Message::new(payload.clone())).await.unwrap();
                            }
                        }
                        for receiver in receivers.iter_mut() {
                            for _ in 0..N {
                                receiver.recv().await.unwrap();
                            }
                        }
                    }
                    start.elapsed()
                })
            })
        });

        let (sender, _) = broadcast::channel(N);
        let mut receivers: Vec<_> = (0..subscribers).map(|_| sender.subscribe()).collect();
        group.bench_function(BenchmarkId::new("broadcast", subscribers), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        for _ in 0..N {
                            sender.send(Message::new(payload.clone())).unwrap();
                        }
                        for receiver in receivers.iter_mut() {
                            for _ in 0..N {
                                receiver.recv().await.unwrap();
                            }
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn mailboxes(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("mailbox");
    group.throughput(Throughput::Elements(N as u64));
    let mailbox = Name::new("bench").unwrap();
    let payload = bytes::Bytes::from_static(b"a message of some forty bytes, typical.");

    let bus = in_memory_bus();
    let mut consumer = rt.block_on(bus.consume(&mailbox)).unwrap();
    group.bench_function("bus send, recv, ack", |b| {
        b.iter_custom(|iters| {
            rt.block_on(send_recv_ack(
                &bus,
                &mut consumer,
                &mailbox,
                &payload,
                N,
                iters,
            ))
        })
    });

    let (sender, mut receiver) = mpsc::channel(N);
    group.bench_function("mpsc send, recv", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    for _ in 0..N {
                        sender.send(Message::new(payload.clone())).await.unwrap();
                    }
                    for _ in 0..N {
                        receiver.recv().await.unwrap();
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

#[cfg(feature = "nats")]
mod nats {
    //! The NATS backend against `async-nats` alone, on a server of the bench's own.

    use std::time::Duration;

    use super::*;
    use async_nats::jetstream::{self, consumer::pull, stream};
    use futures::StreamExt;
    use plan_agents::bus::Nats;
    use plan_agents::bus::nats::NatsConfig;

    /// Fewer than in process: each message is a round trip to the server and a write to its
    /// store.
    const N: usize = 100;

    /// The server, then its store's directory, dropped in that order.
    type Server = (test_support::Server, test_support::TempDir);

    fn start() -> (Server, String) {
        let port = test_support::free_port();
        let store = test_support::temp_dir("bench-nats");
        let mut command = std::process::Command::new("nats-server");
        command
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path());
        let server = test_support::Server::start(command, port);
        ((server, store), format!("nats://127.0.0.1:{port}"))
    }

    pub fn mailboxes(c: &mut Criterion) {
        let rt = runtime();
        // async-nats's subscriptions, dropped at the end, unsubscribe from a task.
        let _context = rt.enter();
        let (_server, url) = start();
        let mut group = c.benchmark_group("nats mailbox");
        group.throughput(Throughput::Elements(N as u64));
        let payload = bytes::Bytes::from_static(b"a message of some forty bytes, typical.");

        let config = NatsConfig {
            limits: BusLimits {
                capacity: N,
                ..BusLimits::default()
            },
            ..NatsConfig::default()
        };
        let bus = rt.block_on(Nats::connect_with(&url, config)).unwrap();
        let mailbox = Name::new("bench").unwrap();
        let mut consumer = rt.block_on(bus.consume(&mailbox)).unwrap();
        group.bench_function("bus send, recv, ack", |b| {
            b.iter_custom(|iters| {
                rt.block_on(send_recv_ack(
                    &bus,
                    &mut consumer,
                    &mailbox,
                    &payload,
                    N,
                    iters,
                ))
            })
        });

        // The same stream and consumer as the bus makes, by hand.
        let js = rt.block_on(async {
            let client = async_nats::connect(&url).await.unwrap();
            jetstream::new(client)
        });
        let raw = rt.block_on(async {
            let stream = js
                .create_stream(stream::Config {
                    name: "RAW".to_owned(),
                    subjects: vec!["raw".to_owned()],
                    retention: stream::RetentionPolicy::WorkQueue,
                    // Unlimited: a publish here never waits for acks to free room, where the
                    // bus's would (acks are not confirmed, so room can lag one).
                    ..stream::Config::default()
                })
                .await
                .unwrap();
            stream
                .create_consumer(pull::Config {
                    durable_name: Some("consumers".to_owned()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    max_ack_pending: N as i64,
                    ..pull::Config::default()
                })
                .await
                .unwrap()
        });
        let publish_all = |js: &jetstream::Context, payload: &bytes::Bytes| {
            let (js, payload) = (js.clone(), payload.clone());
            async move {
                for _ in 0..N {
                    js.publish("raw", payload.clone())
                        .await
                        .unwrap()
                        .await
                        .unwrap();
                }
            }
        };
        group.bench_function("async-nats publish, pull 1, ack", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        publish_all(&js, &payload).await;
                        for _ in 0..N {
                            let mut batch = raw
                                .batch()
                                .max_messages(1)
                                .expires(Duration::from_secs(1))
                                .messages()
                                .await
                                .unwrap();
                            batch.next().await.unwrap().unwrap().ack().await.unwrap();
                        }
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function("async-nats publish, pull all, ack", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        publish_all(&js, &payload).await;
                        let mut batch = raw
                            .batch()
                            .max_messages(N)
                            .expires(Duration::from_secs(5))
                            .messages()
                            .await
                            .unwrap();
                        let mut got = 0;
                        while let Some(message) = batch.next().await {
                            message.unwrap().ack().await.unwrap();
                            got += 1;
                        }
                        assert_eq!(got, N);
                    }
                    start.elapsed()
                })
            })
        });
        group.finish();
    }
}

#[cfg(feature = "nats")]
criterion_group!(benches, topics, mailboxes, nats::mailboxes);
#[cfg(not(feature = "nats"))]
criterion_group!(benches, topics, mailboxes);
criterion_main!(benches);
