//! A mailbox on NATS: a work-queue stream, one durable pull consumer shared by the
//! mailbox's consumers, and a stream of dead letters.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{AckKind, Message as JetStreamMessage};
use async_nats::{HeaderMap, StatusCode, Subject};
use futures::StreamExt;
use tokio::time::Instant;

use super::{DELIVERIES, FAILURE, Inner, Kind, backend, from_nats, header};
use crate::bus::{BusError, Consumer, DeadLetter, Delivery, Failure, Message, Name};

/// The durable consumer that a mailbox's consumers share.
const DURABLE: &str = "consumers";

/// How long one pull waits on the server for a message before it asks again. Long: as a
/// pull expires just when the server hands it a message, the server may take back its count
/// of that delivery, so each expiry is a chance for a delivery's number to repeat.
const PULL: Duration = Duration::from_secs(30);

/// How often the server says, while a pull waits, that it is still there.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long without a word from the server before a pull counts as lost: then the consumer
/// checks that it is still connected, so that `recv` on a bus whose server is gone fails
/// within this.
const LOST: Duration = Duration::from_secs(3);

/// A consumer of a mailbox of a [`Nats`](super::Nats) bus.
///
/// Each `recv` pulls one message, so that a message waits on the server, for whichever
/// consumer asks first, rather than in one consumer's buffer while its deadline runs. The
/// answers come to one inbox for the consumer's life: a message that comes after its pull
/// expired, or after the `recv` that pulled it was cancelled, waits there for the next
/// `recv`, instead of being lost until its ack deadline passes.
#[derive(Debug)]
pub struct NatsConsumer {
    inner: Arc<Inner>,
    mailbox: Name,
    consumer: PullConsumer,
    inbox: Subject,
    /// `None` only while dropped.
    answers: Option<async_nats::Subscriber>,
    /// When the server last spoke for the pull still out (sent it, or beat for it).
    pulled: Option<Instant>,
}

impl NatsConsumer {
    pub(super) async fn new(inner: Arc<Inner>, mailbox: &Name) -> Result<Self, BusError> {
        let stream = inner.stream(Kind::Mailbox, mailbox).await?;
        // Made now, so that a move to the dead letters is one publish.
        inner.stream(Kind::DeadLetters, mailbox).await?;
        let limits = inner.config.limits;
        let config = pull::Config {
            durable_name: Some(DURABLE.to_owned()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: limits.ack_deadline,
            // Unlimited: the server would stop delivering a message that ran out, and keep
            // it; the consumers count and move it themselves.
            max_deliver: -1,
            max_ack_pending: limits.capacity as i64,
            num_replicas: inner.config.replicas,
            ..pull::Config::default()
        };
        let fail = |e: &dyn std::fmt::Display| backend("consume from", mailbox, e.to_string());
        let consumer = stream.create_consumer(config).await.map_err(|e| fail(&e))?;
        let inbox = Subject::from(inner.client.new_inbox());
        let answers = inner
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| fail(&e))?;
        Ok(NatsConsumer {
            inner,
            mailbox: mailbox.clone(),
            consumer,
            inbox,
            answers: Some(answers),
            pulled: None,
        })
    }

    /// A message, or `None` if none came for the pull out (which is then over).
    async fn pull(&mut self) -> Result<Option<JetStreamMessage>, BusError> {
        let fail =
            |e: &dyn std::fmt::Display| backend("receive from", &self.mailbox, e.to_string());
        let pulled = match self.pulled {
            Some(pulled) => pulled,
            None => {
                let request = pull::BatchConfig {
                    batch: 1,
                    expires: Some(PULL),
                    idle_heartbeat: HEARTBEAT,
                    ..pull::BatchConfig::default()
                };
                self.consumer
                    .request_batch(request, self.inbox.clone())
                    .await
                    .map_err(|e| fail(&e))?;
                *self.pulled.insert(Instant::now())
            }
        };
        let answers = self
            .answers
            .as_mut()
            .ok_or_else(|| fail(&"the consumer is dropped"))?;
        let answer = tokio::time::timeout_at(pulled + LOST, answers.next()).await;
        let Ok(answer) = answer else {
            // No answer at all: the pull (or the connection) was lost.
            self.pulled = None;
            return Ok(None);
        };
        let answer = answer.ok_or_else(|| fail(&"the client closed the subscription"))?;
        match answer.status {
            None | Some(StatusCode::OK) => {
                self.pulled = None;
                Ok(Some(JetStreamMessage {
                    message: answer,
                    context: self.inner.jetstream.clone(),
                }))
            }
            // The pull is still out, and the server alive.
            Some(StatusCode::IDLE_HEARTBEAT) => {
                self.pulled = Some(Instant::now());
                Ok(None)
            }
            // Expired, nothing there, or ended by the server (too many pulls waiting, say).
            Some(_) => {
                self.pulled = None;
                Ok(None)
            }
        }
    }
}

impl Consumer for NatsConsumer {
    type Delivery = NatsDelivery;

    async fn recv(&mut self) -> Result<NatsDelivery, BusError> {
        let max = self.inner.config.limits.max_deliveries;
        loop {
            let Some(message) = self.pull().await? else {
                if self.pulled.is_none()
                    && self.inner.client.connection_state()
                        != async_nats::connection::State::Connected
                {
                    return Err(backend(
                        "receive from",
                        &self.mailbox,
                        "not connected to the server",
                    ));
                }
                continue;
            };
            let received = Instant::now();
            let info = message
                .info()
                .map_err(|e| backend("receive from", &self.mailbox, e))?;
            let attempt = u32::try_from(info.delivered).unwrap_or(u32::MAX);
            let sequence = info.stream_sequence;
            let (message, acker) = message.split();
            let message = from_nats(&self.mailbox, message.payload, message.headers.as_ref());
            if attempt > max {
                // Its last delivery's deadline passed: it goes to the dead letters, not here.
                let letter = Letter {
                    mailbox: self.mailbox.clone(),
                    message,
                    sequence,
                };
                letter
                    .bury(&self.inner, &acker, max, Failure::Expired)
                    .await?;
                continue;
            }
            return Ok(NatsDelivery {
                inner: Arc::clone(&self.inner),
                letter: Letter {
                    mailbox: self.mailbox.clone(),
                    message,
                    sequence,
                },
                attempt,
                deadline: received + self.inner.config.limits.ack_deadline,
                acker: Some(acker),
            });
        }
    }
}

impl Drop for NatsConsumer {
    fn drop(&mut self) {
        forget_outside_a_runtime(&mut self.answers);
    }
}

/// async-nats unsubscribes a dropped subscription from a task, and panics where there is no
/// runtime to spawn it on. There, the subscription is left to end with its connection.
pub(super) fn forget_outside_a_runtime(subscription: &mut Option<async_nats::Subscriber>) {
    if tokio::runtime::Handle::try_current().is_err() {
        std::mem::forget(subscription.take());
    }
}

/// A message of a mailbox, as its stream has it.
#[derive(Debug)]
struct Letter {
    mailbox: Name,
    message: Message,
    sequence: u64,
}

impl Letter {
    /// Moves the letter to the dead letters: published there first, then acked, so that a
    /// failure in between leaves it in the mailbox (to be moved again), never nowhere. The
    /// dead letter's message ID is the stream sequence, so a second move within the
    /// server's duplicate window adds nothing.
    async fn bury(
        self,
        inner: &Inner,
        acker: &Acker,
        deliveries: u32,
        failure: Failure,
    ) -> Result<(), BusError> {
        let mut extra = HeaderMap::new();
        extra.insert("Nats-Msg-Id", self.sequence.to_string());
        extra.insert(DELIVERIES, deliveries.to_string());
        extra.insert(FAILURE, failure.as_str());
        inner
            .publish(Kind::DeadLetters, &self.mailbox, &self.message, extra, true)
            .await?;
        acker
            .ack()
            .await
            .map_err(|e| backend("dead-letter a message of", &self.mailbox, e))
    }
}

/// A delivery from a [`Nats`](super::Nats) bus's mailbox.
///
/// Its deadline is counted from when it arrived: once that has passed, the server delivers
/// the message again, and a nack or a drop of this delivery changes nothing.
pub struct NatsDelivery {
    inner: Arc<Inner>,
    letter: Letter,
    attempt: u32,
    deadline: Instant,
    /// `None` once settled.
    acker: Option<Acker>,
}

impl std::fmt::Debug for NatsDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsDelivery")
            .field("message", &self.letter.message)
            .field("sequence", &self.letter.sequence)
            .field("attempt", &self.attempt)
            .field("deadline", &self.deadline)
            .field("settled", &self.acker.is_none())
            .finish_non_exhaustive()
    }
}

impl NatsDelivery {
    /// Redelivers the message, or dead-letters it if this was its last delivery.
    async fn fail(
        inner: Arc<Inner>,
        letter: Letter,
        attempt: u32,
        deadline: Instant,
        acker: Acker,
        failure: Failure,
    ) -> Result<(), BusError> {
        if Instant::now() >= deadline {
            return Ok(());
        }
        if attempt >= inner.config.limits.max_deliveries {
            return letter.bury(&inner, &acker, attempt, failure).await;
        }
        acker
            .ack_with(AckKind::Nak(None))
            .await
            .map_err(|e| backend("nack a message of", &letter.mailbox, e))
    }
}

impl Delivery for NatsDelivery {
    fn message(&self) -> &Message {
        &self.letter.message
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    async fn ack(mut self) -> Result<(), BusError> {
        match self.acker.take() {
            Some(acker) => acker
                .ack()
                .await
                .map_err(|e| backend("ack a message of", &self.letter.mailbox, e)),
            None => Ok(()),
        }
    }

    async fn nack(mut self) -> Result<(), BusError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let letter = self.take_letter();
        NatsDelivery::fail(
            Arc::clone(&self.inner),
            letter,
            self.attempt,
            self.deadline,
            acker,
            Failure::Nacked,
        )
        .await
    }
}

impl NatsDelivery {
    fn take_letter(&mut self) -> Letter {
        Letter {
            mailbox: self.letter.mailbox.clone(),
            message: std::mem::take(&mut self.letter.message),
            sequence: self.letter.sequence,
        }
    }
}

impl Drop for NatsDelivery {
    fn drop(&mut self) {
        let Some(acker) = self.acker.take() else {
            return;
        };
        // Telling the server needs the runtime; without one (the runtime is shutting down)
        // the ack deadline does it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let failed = NatsDelivery::fail(
                Arc::clone(&self.inner),
                self.take_letter(),
                self.attempt,
                self.deadline,
                acker,
                Failure::Dropped,
            );
            runtime.spawn(async move {
                // Nobody awaits this: the failure can only be logged, and the ack deadline
                // redelivers the message anyway.
                if let Err(err) = failed.await {
                    tracing::warn!("a dropped delivery's nack failed: {err}");
                }
            });
        }
    }
}

/// The dead letters of `mailbox` with their stream sequences, oldest first.
pub(super) async fn dead_letters(
    inner: &Inner,
    mailbox: &Name,
) -> Result<Vec<(u64, DeadLetter)>, BusError> {
    let stream = inner.stream(Kind::DeadLetters, mailbox).await?;
    let subject = inner.subject(Kind::DeadLetters, mailbox);
    let mut letters = Vec::new();
    let mut next = 1;
    loop {
        let raw = match stream
            .get_first_raw_message_by_subject(&subject, next)
            .await
        {
            Ok(raw) => raw,
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => break,
            Err(e) => return Err(backend("read the dead letters of", mailbox, e)),
        };
        next = raw.sequence + 1;
        let deliveries = header(&raw.headers, DELIVERIES)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        let failure = header(&raw.headers, FAILURE)
            .and_then(Failure::parse)
            .unwrap_or(Failure::Expired);
        let message = from_nats(mailbox, raw.payload, Some(&raw.headers));
        letters.push((
            raw.sequence,
            DeadLetter {
                message,
                deliveries,
                failure,
            },
        ));
    }
    Ok(letters)
}

/// Sends each dead letter of `mailbox` back into it, then deletes it from the dead letters:
/// a failure in between leaves it in both, never in neither.
pub(super) async fn replay(inner: &Inner, mailbox: &Name) -> Result<usize, BusError> {
    let stream = inner.stream(Kind::DeadLetters, mailbox).await?;
    let letters = dead_letters(inner, mailbox).await?;
    for (sequence, letter) in &letters {
        inner
            .publish(
                Kind::Mailbox,
                mailbox,
                &letter.message,
                HeaderMap::new(),
                true,
            )
            .await?;
        stream
            .delete_message(*sequence)
            .await
            .map_err(|e| backend("replay the dead letters of", mailbox, e))?;
    }
    Ok(letters.len())
}
