//! [`Nats`]: the bus over NATS JetStream, for agents in several processes.
//!
//! Every queue is a JetStream stream, so that nothing is dropped for a slow reader (core
//! NATS drops a slow subscriber's messages) and a full queue refuses new messages (discard
//! policy `new`) instead of losing old ones; a publisher that is refused waits and tries
//! again. For a namespace `ns` (see [`NatsConfig::namespace`]):
//!
//! | what | stream | subject | retention |
//! | --- | --- | --- | --- |
//! | topic `t` | `ns_T_t` | `ns.t.t` | interest: a message stays until every subscriber has it |
//! | mailbox `m` | `ns_M_m` | `ns.m.m` | work queue: a message stays until it is acked |
//! | dead letters of `m` | `ns_D_m` | `ns.d.m` | limits (none): a letter stays until replayed |
//!
//! A topic's subscriber is an ephemeral consumer of its own; a mailbox's consumers share one
//! durable consumer, `consumers`, whose ack wait is the ack deadline. The count of
//! deliveries is the server's; the dead-lettering is the client's, since JetStream keeps a
//! message that ran out of deliveries where it is: a consumer that nacks a message's last
//! delivery moves it to the dead letters, and one that is delivered a message past its last
//! (its last deadline passed) moves it before it looks further. Requests are core NATS
//! request/reply on `ns.r.<subject>`, its responders one queue group.

mod mailbox;
mod reply;
mod topic;

#[cfg(test)]
mod fuzz;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;

pub use mailbox::{NatsConsumer, NatsDelivery};
pub use reply::{NatsRequest, NatsResponder};
pub use topic::NatsSubscription;

use super::{Bus, BusError, BusLimits, DeadLetter, Message, Name};
use crate::echo;

/// How a [`Nats`] bus is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConfig {
    /// What the bus's streams and subjects start with: 1 to 16 ASCII letters and digits.
    /// Buses with the same namespace on one server are one bus. Default `plan`.
    pub namespace: String,
    /// The limits of every queue. A stream is made with them; one that exists is changed
    /// to them.
    pub limits: BusLimits,
    /// Where the server keeps the streams. Default [`stream::StorageType::File`].
    pub storage: stream::StorageType,
    /// How many servers of a cluster keep each stream and its consumers (1 to 5). Default
    /// 1; 3 on a 3-node cluster survives the loss of a node.
    pub replicas: usize,
    /// How long connecting, and each operation on the server, may take before it fails.
    /// Default 5 s.
    pub timeout: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            namespace: "plan".to_owned(),
            limits: BusLimits::default(),
            storage: stream::StorageType::File,
            replicas: 1,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The bus over a NATS server with JetStream (`nats-server -js`). Clones share one
/// connection, which reconnects by itself when the server comes back.
#[derive(Clone, Debug)]
pub struct Nats {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    config: NatsConfig,
}

/// What [`Nats::connect`] says the backend is, in errors.
const BACKEND: &str = "nats";

/// Headers of the bus's own.
const PRIORITY: &str = "Plan-Priority";
const DELIVERIES: &str = "Plan-Deliveries";
const FAILURE: &str = "Plan-Failure";

fn backend(
    operation: &'static str,
    subject: impl ToString,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> BusError {
    BusError::Backend {
        backend: BACKEND,
        operation,
        // A server's URL is given from outside, and may be anything.
        subject: echo::name(&subject.to_string()),
        source: source.into(),
    }
}

impl Nats {
    /// Connects to the server at `url` (`nats://127.0.0.1:4222`) with the default
    /// [`NatsConfig`].
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        Nats::connect_with(url, NatsConfig::default()).await
    }

    /// Connects to the server at `url` with `config`. Fails within `config.timeout` if the
    /// server is down, and if it runs without JetStream.
    pub async fn connect_with(url: &str, config: NatsConfig) -> Result<Self, BusError> {
        config.limits.check()?;
        if !(1..=5).contains(&config.replicas) {
            return Err(BusError::BadLimits {
                reason: "a stream has 1 to 5 replicas",
            });
        }
        let namespace = &config.namespace;
        if namespace.is_empty()
            || namespace.len() > 16
            || !namespace.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(BusError::BadName {
                name: echo::name(namespace),
                reason: "a namespace is 1 to 16 ASCII letters and digits".to_owned(),
            });
        }
        let connecting = async_nats::ConnectOptions::new()
            .name("plan-agents")
            .connection_timeout(config.timeout)
            .connect(url);
        // The connection timeout bounds one attempt; this bounds the name lookups too.
        let client = tokio::time::timeout(config.timeout, connecting)
            .await
            .map_err(|_| backend("connect to", url, "timed out"))?
            .map_err(|e| backend("connect to", url, e))?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .build(client.clone());
        // The account's JetStream info: an error, or no responder, means no JetStream.
        let info = tokio::time::timeout(
            config.timeout,
            jetstream.request::<_, _, serde_json::Value>("INFO", &()),
        )
        .await
        .map_err(|_| backend("connect to", url, "no JetStream: INFO timed out"))?
        .map_err(|e| backend("connect to", url, format!("no JetStream: {e}")))?;
        if let Some(error) = info.get("error") {
            return Err(backend("connect to", url, format!("no JetStream: {error}")));
        }
        Ok(Nats {
            inner: Arc::new(Inner {
                client,
                jetstream,
                config,
            }),
        })
    }

    /// The bus's configuration.
    pub fn config(&self) -> &NatsConfig {
        &self.inner.config
    }
}

/// What a name is called on the server.
#[derive(Clone, Copy)]
enum Kind {
    Topic,
    Mailbox,
    DeadLetters,
}

impl Inner {
    fn stream_name(&self, kind: Kind, name: &Name) -> String {
        let tag = match kind {
            Kind::Topic => "T",
            Kind::Mailbox => "M",
            Kind::DeadLetters => "D",
        };
        format!("{}_{tag}_{name}", self.config.namespace)
    }

    fn subject(&self, kind: Kind, name: &Name) -> String {
        let tag = match kind {
            Kind::Topic => "t",
            Kind::Mailbox => "m",
            Kind::DeadLetters => "d",
        };
        format!("{}.{tag}.{name}", self.config.namespace)
    }

    /// Makes the stream for `name` (or brings one that exists to this bus's limits).
    async fn stream(&self, kind: Kind, name: &Name) -> Result<stream::Stream<()>, BusError> {
        let limits = self.config.limits;
        let (retention, max_messages) = match kind {
            Kind::Topic => (stream::RetentionPolicy::Interest, limits.capacity as i64),
            Kind::Mailbox => (stream::RetentionPolicy::WorkQueue, limits.capacity as i64),
            Kind::DeadLetters => (stream::RetentionPolicy::Limits, -1),
        };
        let config = stream::Config {
            name: self.stream_name(kind, name),
            subjects: vec![self.subject(kind, name)],
            retention,
            max_messages,
            discard: stream::DiscardPolicy::New,
            storage: self.config.storage,
            num_replicas: self.config.replicas,
            ..stream::Config::default()
        };
        self.jetstream
            .create_or_update_stream(config)
            .await
            .map_err(|e| backend("make the stream for", name, e))?;
        self.jetstream
            .get_stream_no_info(self.stream_name(kind, name))
            .await
            .map_err(|e| backend("make the stream for", name, e))
    }

    /// Publishes into a stream, waiting while it is full; makes the stream if there is none
    /// and `make` says so, else returns `false` for a stream that does not exist.
    async fn publish(
        &self,
        kind: Kind,
        name: &Name,
        message: &Message,
        extra: HeaderMap,
        make: bool,
    ) -> Result<bool, BusError> {
        let subject = self.subject(kind, name);
        let headers = to_headers(message, extra);
        self.fits(name, message, &headers)?;
        // From 1 ms, doubling to 64 ms: quick to go on when a reader makes room, cheap while
        // a reader is away.
        let mut pause = Duration::from_millis(1);
        let mut made = false;
        loop {
            let publish = PublishMessage::build()
                .payload(message.payload().clone())
                .headers(headers.clone());
            let sent = self.jetstream.send_publish(subject.clone(), publish).await;
            let acked = match sent {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            match acked {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound && !made => {
                    if !make {
                        return Ok(false);
                    }
                    self.stream(kind, name).await?;
                    made = true;
                }
                Err(e) if is_full(&e) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(64));
                }
                Err(e) => return Err(backend("publish to", name, e)),
            }
        }
    }
}

impl Inner {
    /// Fails with [`BusError::TooLarge`] if `message` is over the bus's
    /// [`BusLimits::max_message`], or, framed with `headers` as NATS sends it, over the server's
    /// `max_payload`: checked before sending, so that neither the client refuses it with an
    /// error of its own nor the server closes the connection over it.
    fn fits(&self, subject: &Name, message: &Message, headers: &HeaderMap) -> Result<(), BusError> {
        message.fits(subject, self.config.limits.max_message)?;
        let framed = message.payload().len().saturating_add(framing(headers));
        let max_payload = self.client.max_payload();
        if framed > max_payload {
            return Err(BusError::TooLarge {
                subject: subject.to_string(),
                size: framed,
                limit: max_payload,
            });
        }
        Ok(())
    }
}

/// The bytes NATS adds to a payload for `headers`, which `max_payload` counts: `NATS/1.0`,
/// a `name: value` line each and a blank line, each line ending in CRLF; none without
/// headers.
fn framing(headers: &HeaderMap) -> usize {
    if headers.is_empty() {
        return 0;
    }
    let lines: usize = headers
        .iter()
        .flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values
                .iter()
                .map(move |v| name.len() + v.as_str().len() + 4)
        })
        .sum();
    "NATS/1.0\r\n\r\n".len() + lines
}

/// Whether the stream refused a message because it is full (discard policy `new`).
fn is_full(error: &jetstream::context::PublishError) -> bool {
    // JetStream says so in words only: its error code (10077) is that of any failed store.
    std::error::Error::source(error)
        .and_then(|s| s.downcast_ref::<jetstream::Error>())
        .is_some_and(|e| e.to_string().contains("maximum messages exceeded"))
}

/// `message`'s headers for NATS, with its priority and `extra`.
fn to_headers(message: &Message, mut headers: HeaderMap) -> HeaderMap {
    // `Message::with_header` checked every name and value as NATS does, so none panics.
    for (name, value) in message.headers() {
        headers.insert(name, value);
    }
    if message.priority() != 0 {
        headers.insert(PRIORITY, message.priority().to_string());
    }
    headers
}

/// A message received on `subject`, without the bus's and the server's headers.
fn from_nats(subject: &Name, payload: Bytes, headers: Option<&HeaderMap>) -> Message {
    let mut own = BTreeMap::new();
    let mut priority = 0;
    for (name, values) in headers.into_iter().flat_map(HeaderMap::iter) {
        let (name, value): (&str, &str) =
            (name.as_ref(), values.first().map_or("", |v| v.as_str()));
        if name.eq_ignore_ascii_case(PRIORITY) {
            // A foreign publisher's malformed priority is no reason to refuse its message; of
            // several spellings (`plan-priority` too), the highest counts, whatever the
            // order the header map keeps them in.
            priority = priority.max(value.parse().unwrap_or(0));
        } else if !is_reserved(name) {
            own.insert(name.to_owned(), value.to_owned());
        }
    }
    Message::received(subject, payload, own, priority)
}

fn is_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("plan-") || lower.starts_with("nats-")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.as_str())
}

impl Bus for Nats {
    type Subscription = NatsSubscription;
    type Consumer = NatsConsumer;
    type Responder = NatsResponder;

    async fn publish(&self, topic: &Name, message: Message) -> Result<(), BusError> {
        // No stream: nobody ever subscribed, so nobody is there to miss the message.
        self.inner
            .publish(Kind::Topic, topic, &message, HeaderMap::new(), false)
            .await
            .map(drop)
    }

    async fn subscribe(&self, topic: &Name) -> Result<NatsSubscription, BusError> {
        NatsSubscription::new(Arc::clone(&self.inner), topic).await
    }

    async fn send(&self, mailbox: &Name, message: Message) -> Result<(), BusError> {
        self.inner
            .publish(Kind::Mailbox, mailbox, &message, HeaderMap::new(), true)
            .await
            .map(drop)
    }

    async fn consume(&self, mailbox: &Name) -> Result<NatsConsumer, BusError> {
        NatsConsumer::new(Arc::clone(&self.inner), mailbox).await
    }

    async fn request(
        &self,
        subject: &Name,
        message: Message,
        deadline: Duration,
    ) -> Result<Message, BusError> {
        reply::request(&self.inner, subject, message, deadline).await
    }

    async fn serve(&self, subject: &Name) -> Result<NatsResponder, BusError> {
        NatsResponder::new(Arc::clone(&self.inner), subject).await
    }

    async fn dead_letters(&self, mailbox: &Name) -> Result<Vec<DeadLetter>, BusError> {
        mailbox::dead_letters(&self.inner, mailbox)
            .await
            .map(|letters| letters.into_iter().map(|(_, letter)| letter).collect())
    }

    async fn replay_dead_letters(&self, mailbox: &Name) -> Result<usize, BusError> {
        mailbox::replay(&self.inner, mailbox).await
    }
}
