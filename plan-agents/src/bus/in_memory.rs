//! [`InMemory`]: the bus in process, for agents that share a runtime.
//!
//! Topics are a bounded channel per subscriber; mailboxes a queue with the deliveries in
//! flight beside it, each with its ack deadline; requests a bounded channel shared by a
//! subject's responders, each with a one-shot channel for its reply. Ack deadlines are
//! tokio's time, so a test on a paused clock sees them pass exactly when it advances.

mod mailbox;
mod reply;
mod topic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use mailbox::{InMemoryConsumer, InMemoryDelivery};
pub use reply::{InMemoryRequest, InMemoryResponder};
pub use topic::InMemorySubscription;

use super::{Bus, BusError, BusLimits, DeadLetter, Message, Name};
use mailbox::Mailbox;
use reply::Subject;
use topic::Topic;

/// The in-process bus. Clones share it; it closes when the last clone is dropped, and then
/// its subscriptions, consumers and responders fail with [`BusError::Closed`] once they have
/// nothing left to receive.
///
/// ```
/// use plan_agents::bus::{Bus, InMemory, Message, Name, Subscription};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let bus = InMemory::new();
/// let done = Name::new("plans-done").unwrap();
/// let (mut a, mut b) = (bus.subscribe(&done).await.unwrap(), bus.subscribe(&done).await.unwrap());
/// bus.publish(&done, Message::new("writer")).await.unwrap();
/// // Every subscriber gets every message.
/// assert_eq!(a.recv().await.unwrap().payload(), "writer");
/// assert_eq!(b.recv().await.unwrap().payload(), "writer");
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct InMemory {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    limits: BusLimits,
    topics: Mutex<HashMap<Name, Arc<Topic>>>,
    mailboxes: Mutex<HashMap<Name, Arc<Mailbox>>>,
    subjects: Mutex<HashMap<Name, Subject>>,
}

impl InMemory {
    /// A bus with the default [`BusLimits`].
    pub fn new() -> Self {
        InMemory::default()
    }

    /// A bus with `limits`, if a queue can keep them.
    pub fn with_limits(limits: BusLimits) -> Result<Self, BusError> {
        limits.check()?;
        Ok(InMemory {
            inner: Arc::new(Inner {
                limits,
                topics: Mutex::default(),
                mailboxes: Mutex::default(),
                subjects: Mutex::default(),
            }),
        })
    }

    /// The bus's limits.
    pub fn limits(&self) -> BusLimits {
        self.inner.limits
    }

    fn topic(&self, name: &Name) -> Arc<Topic> {
        let mut topics = lock(&self.inner.topics);
        Arc::clone(topics.entry(name.clone()).or_default())
    }

    fn mailbox(&self, name: &Name) -> Arc<Mailbox> {
        let mut mailboxes = lock(&self.inner.mailboxes);
        Arc::clone(
            mailboxes
                .entry(name.clone())
                .or_insert_with(|| Arc::new(Mailbox::new(name.clone(), self.inner.limits))),
        )
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Consumers hold their mailbox, not the bus: tell them nothing more will come.
        for mailbox in lock(&self.mailboxes).values() {
            mailbox.close();
        }
    }
}

/// Locks `mutex`, whose data no critical section leaves half-changed: a panic while it was
/// held (a bug elsewhere) does not make it unusable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Bus for InMemory {
    type Subscription = InMemorySubscription;
    type Consumer = InMemoryConsumer;
    type Responder = InMemoryResponder;

    async fn publish(&self, topic: &Name, message: Message) -> Result<(), BusError> {
        message.fits(topic, self.inner.limits.max_message)?;
        self.topic(topic).publish(message.sent_to(topic)).await;
        Ok(())
    }

    async fn subscribe(&self, topic: &Name) -> Result<InMemorySubscription, BusError> {
        Ok(self
            .topic(topic)
            .subscribe(topic, self.inner.limits.capacity))
    }

    async fn send(&self, mailbox: &Name, message: Message) -> Result<(), BusError> {
        message.fits(mailbox, self.inner.limits.max_message)?;
        self.mailbox(mailbox).send(message.sent_to(mailbox)).await
    }

    async fn consume(&self, mailbox: &Name) -> Result<InMemoryConsumer, BusError> {
        Ok(InMemoryConsumer::new(self.mailbox(mailbox)))
    }

    async fn request(
        &self,
        subject: &Name,
        message: Message,
        deadline: Duration,
    ) -> Result<Message, BusError> {
        message.fits(subject, self.inner.limits.max_message)?;
        let queue = reply::queue(&lock(&self.inner.subjects), subject)?;
        reply::request(queue, subject, message.sent_to(subject), deadline).await
    }

    async fn serve(&self, subject: &Name) -> Result<InMemoryResponder, BusError> {
        let mut subjects = lock(&self.inner.subjects);
        Ok(reply::serve(&mut subjects, subject, self.inner.limits))
    }

    async fn dead_letters(&self, mailbox: &Name) -> Result<Vec<DeadLetter>, BusError> {
        Ok(self.mailbox(mailbox).dead_letters())
    }

    async fn replay_dead_letters(&self, mailbox: &Name) -> Result<usize, BusError> {
        Ok(self.mailbox(mailbox).replay().await)
    }
}
