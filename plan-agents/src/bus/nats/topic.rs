//! A topic on NATS: an interest stream, and an ephemeral consumer per subscriber.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::stream;
use futures::StreamExt;

use super::{Inner, Kind, backend, from_nats};
use crate::bus::{BusError, Message, Name, Subscription};

/// How long the server keeps a subscriber's consumer after its process stopped asking for
/// messages (it died without unsubscribing): until then the topic keeps its messages for
/// it, and a full topic holds publishers back.
const INACTIVE: Duration = Duration::from_secs(10);

/// A subscription to a topic of a [`Nats`](super::Nats) bus.
///
/// Its consumer sends ahead up to the capacity; a message counts as received, and is acked,
/// when `recv` returns it. A message the server sends again (its ack wait passed while it
/// waited here) is not returned twice.
pub struct NatsSubscription {
    topic: Name,
    stream: stream::Stream<()>,
    consumer: String,
    /// `None` only while dropped.
    messages: Option<pull::Stream>,
    /// The stream sequence of the last message returned.
    last: u64,
}

impl std::fmt::Debug for NatsSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSubscription")
            .field("topic", &self.topic)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl NatsSubscription {
    pub(super) async fn new(inner: Arc<Inner>, topic: &Name) -> Result<Self, BusError> {
        let stream = inner.stream(Kind::Topic, topic).await?;
        let capacity = inner.config.limits.capacity;
        let config = pull::Config {
            deliver_policy: DeliverPolicy::New,
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: capacity as i64,
            inactive_threshold: INACTIVE,
            ..pull::Config::default()
        };
        let fail = |e: &dyn std::fmt::Display| backend("subscribe to", topic, e.to_string());
        let mut consumer = stream.create_consumer(config).await.map_err(|e| fail(&e))?;
        let name = consumer.info().await.map_err(|e| fail(&e))?.name.clone();
        let messages = consumer
            .stream()
            .max_messages_per_batch(capacity)
            .messages()
            .await
            .map_err(|e| fail(&e))?;
        Ok(NatsSubscription {
            topic: topic.clone(),
            stream,
            consumer: name,
            messages: Some(messages),
            last: 0,
        })
    }
}

impl Subscription for NatsSubscription {
    async fn recv(&mut self) -> Result<Message, BusError> {
        loop {
            let closed = || BusError::Closed {
                subject: self.topic.to_string(),
            };
            let messages = self.messages.as_mut().ok_or_else(closed)?;
            let message = messages
                .next()
                .await
                .ok_or_else(closed)?
                .map_err(|e| backend("receive from", &self.topic, e))?;
            let sequence = message
                .info()
                .map_err(|e| backend("receive from", &self.topic, e))?
                .stream_sequence;
            // Acked before it is handed over: the topic forgets it for this subscriber.
            message
                .ack()
                .await
                .map_err(|e| backend("receive from", &self.topic, e))?;
            if sequence <= self.last {
                continue;
            }
            self.last = sequence;
            let (message, _) = message.split();
            return Ok(from_nats(
                &self.topic,
                message.payload,
                message.headers.as_ref(),
            ));
        }
    }
}

impl Drop for NatsSubscription {
    fn drop(&mut self) {
        // Unsubscribe now rather than after `INACTIVE`: until then the consumer holds the
        // topic's messages, and a full topic its publishers.
        // Without a runtime, async-nats could not unsubscribe either (it would panic): the
        // server deletes the consumer once it is inactive.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            std::mem::forget(self.messages.take());
            return;
        };
        let (stream, consumer) = (self.stream.clone(), std::mem::take(&mut self.consumer));
        runtime.spawn(async move {
            if let Err(err) = stream.delete_consumer(&consumer).await {
                tracing::warn!("unsubscribing (deleting consumer {consumer}) failed: {err}");
            }
        });
    }
}
