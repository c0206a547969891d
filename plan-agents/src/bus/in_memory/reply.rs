//! Requests in process: a bounded channel shared by a subject's responders, and a one-shot
//! channel per request for its reply.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::bus::{BusError, BusLimits, Incoming, Message, Name, Responder};

/// A request on its way to a responder, with where its reply goes.
#[derive(Debug)]
pub(super) struct Envelope {
    message: Message,
    reply: oneshot::Sender<Message>,
}

/// The responders' shared end of a subject's channel.
type Inbox = Mutex<mpsc::Receiver<Envelope>>;

/// A subject's channel. The bus holds only a weak reference to the receiving end, so that
/// it goes when the last responder does: the requests still queued are then dropped, and
/// their requesters told at once.
#[derive(Debug)]
pub(super) struct Subject {
    requests: mpsc::Sender<Envelope>,
    responders: Weak<Inbox>,
}

/// Where requests on `subject` go, if anybody serves it.
pub(super) fn queue(
    subjects: &HashMap<Name, Subject>,
    subject: &Name,
) -> Result<mpsc::Sender<Envelope>, BusError> {
    match subjects.get(subject) {
        Some(s) if s.responders.strong_count() > 0 => Ok(s.requests.clone()),
        _ => Err(BusError::NoResponders {
            subject: subject.to_string(),
        }),
    }
}

pub(super) async fn request(
    queue: mpsc::Sender<Envelope>,
    subject: &Name,
    message: Message,
    deadline: Duration,
) -> Result<Message, BusError> {
    let (reply, replied) = oneshot::channel();
    let exchange = async {
        // Sending fails only if the last responder went after `queue` was looked up.
        queue
            .send(Envelope { message, reply })
            .await
            .map_err(|_| BusError::NoResponders {
                subject: subject.to_string(),
            })?;
        replied.await.map_err(|_| BusError::Unanswered {
            subject: subject.to_string(),
        })
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(BusError::Timeout {
                subject: subject.to_string(),
                after: deadline,
            })
        })
}

pub(super) fn serve(
    subjects: &mut HashMap<Name, Subject>,
    subject: &Name,
    limits: BusLimits,
) -> InMemoryResponder {
    let inbox = match subjects.get(subject).and_then(|s| s.responders.upgrade()) {
        Some(inbox) => inbox,
        None => {
            let (requests, receiver) = mpsc::channel(limits.capacity);
            let inbox = Arc::new(Mutex::new(receiver));
            let responders = Arc::downgrade(&inbox);
            subjects.insert(
                subject.clone(),
                Subject {
                    requests,
                    responders,
                },
            );
            inbox
        }
    };
    InMemoryResponder {
        subject: subject.clone(),
        inbox,
        max_message: limits.max_message,
    }
}

/// A responder for a request subject of a [`InMemory`](super::InMemory) bus.
#[derive(Debug)]
pub struct InMemoryResponder {
    subject: Name,
    inbox: Arc<Inbox>,
    /// The bus's [`BusLimits::max_message`], for the replies.
    max_message: usize,
}

impl Responder for InMemoryResponder {
    type Incoming = InMemoryRequest;

    async fn recv(&mut self) -> Result<InMemoryRequest, BusError> {
        let envelope = self.inbox.lock().await.recv().await;
        let Envelope { message, reply } = envelope.ok_or_else(|| BusError::Closed {
            subject: self.subject.to_string(),
        })?;
        Ok(InMemoryRequest {
            subject: self.subject.clone(),
            message,
            reply,
            max_message: self.max_message,
        })
    }
}

/// A request from a [`InMemory`](super::InMemory) bus. Dropping it unanswered drops its reply
/// channel, which is what tells the requester.
#[derive(Debug)]
pub struct InMemoryRequest {
    subject: Name,
    message: Message,
    reply: oneshot::Sender<Message>,
    max_message: usize,
}

impl Incoming for InMemoryRequest {
    fn message(&self) -> &Message {
        &self.message
    }

    /// A reply over [`BusLimits::max_message`] fails, and the requester is told the request
    /// went unanswered.
    async fn reply(self, reply: Message) -> Result<(), BusError> {
        reply.fits(&self.subject, self.max_message)?;
        // An error means the requester gave up (its deadline passed): nobody to tell.
        let _ = self.reply.send(reply.sent_to(&self.subject));
        Ok(())
    }
}
