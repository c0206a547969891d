//! A topic in process: a bounded channel per subscriber.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::lock;
use crate::bus::{BusError, Message, Name, Subscription};

/// A topic's subscribers. The list is replaced, not changed, when one comes or goes, so that
/// a publish takes it with one reference count and sends without holding the lock.
#[derive(Debug, Default)]
pub(super) struct Topic {
    subscribers: Mutex<Arc<[mpsc::Sender<Message>]>>,
}

impl Topic {
    pub(super) fn subscribe(&self, name: &Name, capacity: usize) -> InMemorySubscription {
        let (sender, receiver) = mpsc::channel(capacity);
        let mut subscribers = lock(&self.subscribers);
        *subscribers = subscribers
            .iter()
            .filter(|s| !s.is_closed())
            .cloned()
            .chain([sender])
            .collect();
        InMemorySubscription {
            topic: name.clone(),
            receiver,
        }
    }

    /// Sends `message` to each subscriber in turn, waiting while one's queue is full: the
    /// slowest subscriber sets the pace, and none misses a message.
    pub(super) async fn publish(&self, message: Message) {
        let subscribers = Arc::clone(&lock(&self.subscribers));
        let mut gone = false;
        if let Some((last, rest)) = subscribers.split_last() {
            for subscriber in rest {
                gone |= subscriber.send(message.clone()).await.is_err();
            }
            gone |= last.send(message).await.is_err();
        }
        if gone {
            let mut subscribers = lock(&self.subscribers);
            *subscribers = subscribers
                .iter()
                .filter(|s| !s.is_closed())
                .cloned()
                .collect();
        }
    }
}

/// A subscription to a topic of a [`InMemory`](super::InMemory) bus.
#[derive(Debug)]
pub struct InMemorySubscription {
    topic: Name,
    receiver: mpsc::Receiver<Message>,
}

impl Subscription for InMemorySubscription {
    async fn recv(&mut self) -> Result<Message, BusError> {
        self.receiver.recv().await.ok_or_else(|| BusError::Closed {
            subject: self.topic.to_string(),
        })
    }
}
