//! Requests on NATS: core request/reply, a subject's responders one queue group.

use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::{HeaderMap, Subject};
use futures::StreamExt;

use super::{Inner, backend, from_nats, header, to_headers};
use crate::bus::{BusError, Incoming, Message, Name, Responder};

/// The header of a reply that is no reply: the responder dropped the request.
const STATUS: &str = "Plan-Status";
const UNANSWERED: &str = "unanswered";

impl Inner {
    fn request_subject(&self, subject: &Name) -> String {
        format!("{}.r.{subject}", self.config.namespace)
    }
}

pub(super) async fn request(
    inner: &Inner,
    subject: &Name,
    message: Message,
    deadline: Duration,
) -> Result<Message, BusError> {
    // A request sent while disconnected would wait in the client and time out: say why.
    if inner.client.connection_state() != async_nats::connection::State::Connected {
        return Err(backend(
            "request on",
            subject,
            "not connected to the server",
        ));
    }
    let headers = to_headers(&message, HeaderMap::new());
    inner.fits(subject, &message, &headers)?;
    let request = async_nats::Request::new()
        .payload(message.payload().clone())
        .headers(headers)
        .timeout(Some(deadline));
    let reply = inner
        .client
        .send_request(inner.request_subject(subject), request)
        .await
        .map_err(|e| match e.kind() {
            RequestErrorKind::TimedOut => BusError::Timeout {
                subject: subject.to_string(),
                after: deadline,
            },
            RequestErrorKind::NoResponders => BusError::NoResponders {
                subject: subject.to_string(),
            },
            _ => backend("request on", subject, e),
        })?;
    let headers = reply.headers.as_ref();
    if headers.and_then(|h| header(h, STATUS)) == Some(UNANSWERED) {
        return Err(BusError::Unanswered {
            subject: subject.to_string(),
        });
    }
    Ok(from_nats(subject, reply.payload, headers))
}

/// A responder for a request subject of a [`Nats`](super::Nats) bus.
#[derive(Debug)]
pub struct NatsResponder {
    inner: Arc<Inner>,
    subject: Name,
    /// `None` only while dropped.
    subscriber: Option<async_nats::Subscriber>,
}

impl NatsResponder {
    pub(super) async fn new(inner: Arc<Inner>, subject: &Name) -> Result<Self, BusError> {
        let group = format!("{}.r", inner.config.namespace);
        let subscriber = inner
            .client
            .queue_subscribe(inner.request_subject(subject), group)
            .await
            .map_err(|e| backend("serve", subject, e))?;
        // Once the server has the subscription, a request from any connection finds it.
        inner
            .client
            .flush()
            .await
            .map_err(|e| backend("serve", subject, e))?;
        Ok(NatsResponder {
            inner,
            subject: subject.clone(),
            subscriber: Some(subscriber),
        })
    }
}

impl Responder for NatsResponder {
    type Incoming = NatsRequest;

    async fn recv(&mut self) -> Result<NatsRequest, BusError> {
        loop {
            let closed = || BusError::Closed {
                subject: self.subject.to_string(),
            };
            let subscriber = self.subscriber.as_mut().ok_or_else(closed)?;
            let message = subscriber.next().await.ok_or_else(closed)?;
            // A plain publish on the subject has nobody to answer: it is no request.
            let Some(reply) = message.reply else {
                continue;
            };
            return Ok(NatsRequest {
                inner: Arc::clone(&self.inner),
                message: from_nats(&self.subject, message.payload, message.headers.as_ref()),
                reply: Some(reply),
            });
        }
    }
}

impl Drop for NatsResponder {
    fn drop(&mut self) {
        super::mailbox::forget_outside_a_runtime(&mut self.subscriber);
    }
}

/// A request from a [`Nats`](super::Nats) bus. Dropping it unanswered sends the requester
/// a reply that says so.
#[derive(Debug)]
pub struct NatsRequest {
    inner: Arc<Inner>,
    message: Message,
    /// `None` once answered.
    reply: Option<Subject>,
}

impl Incoming for NatsRequest {
    fn message(&self) -> &Message {
        &self.message
    }

    /// A reply over the bus's limit fails, and the requester is told the request went
    /// unanswered.
    async fn reply(mut self, reply: Message) -> Result<(), BusError> {
        let headers = to_headers(&reply, HeaderMap::new());
        if let Some(subject) = self.message.subject() {
            // Before the reply subject is taken: the drop of `self` tells the requester.
            self.inner.fits(subject, &reply, &headers)?;
        }
        let Some(to) = self.reply.take() else {
            return Ok(());
        };
        // A requester that gave up has no subscription left: the server drops the reply.
        self.inner
            .client
            .publish_with_headers(to, headers, reply.payload().clone())
            .await
            .map_err(|e| {
                let subject = self.message.subject().map_or("", Name::as_str);
                backend("reply on", subject, e)
            })
    }
}

impl Drop for NatsRequest {
    fn drop(&mut self) {
        let Some(to) = self.reply.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.inner.client.clone();
            runtime.spawn(async move {
                let mut headers = HeaderMap::new();
                headers.insert(STATUS, UNANSWERED);
                // Nobody awaits this; without it the requester still gets its timeout.
                if let Err(err) = client
                    .publish_with_headers(to, headers, Default::default())
                    .await
                {
                    tracing::warn!("telling a requester its request was dropped failed: {err}");
                }
            });
        }
    }
}
