//! Mail from the bus: a mailbox's or a topic's messages, forwarded into an agent's queue.

use std::time::Duration;

use plan_state::store::Store;

use super::{Agents, SessionError};
use crate::bus::{Consumer, Delivery, Message, Subscription};

impl<S: Store + 'static> Agents<S> {
    /// Forwards every message of a mailbox to `agent` as [mail](Agents::mail), until the
    /// consumer fails or the agent is gone or stopped; spawn it.
    ///
    /// A message is acked once it is in the agent's record in the store, so none is lost
    /// between the two. The next message is taken only once the agent's queue has room, so
    /// the mailbox fills up behind a full queue: senders are held back, nothing is dropped,
    /// and no delivery waits out its ack deadline here (unless other senders fill the queue
    /// in between). A store that fails is tried again, from 100 ms to every 5 s. A message
    /// that is not JSON is nacked, and ends in the mailbox's dead letters.
    pub async fn forward_mailbox<C: Consumer>(
        &self,
        mut consumer: C,
        agent: &str,
    ) -> Result<(), SessionError> {
        loop {
            self.room_in(agent).await?;
            let delivery = consumer.recv().await?;
            match self.deliver(agent, delivery.message().clone()).await {
                Ok(_) => delivery.ack().await?,
                Err(SessionError::BadMail { .. }) => delivery.nack().await?,
                Err(e) => {
                    delivery.nack().await?;
                    return Err(e);
                }
            }
        }
    }

    /// Forwards every message of a topic to `agent` as [mail](Agents::mail), as
    /// [`Agents::forward_mailbox`] does; a message that is not JSON is skipped, with a
    /// tracing event.
    pub async fn forward_topic<T: Subscription>(
        &self,
        mut subscription: T,
        agent: &str,
    ) -> Result<(), SessionError> {
        loop {
            let message = subscription.recv().await?;
            match self.deliver(agent, message).await {
                Ok(_) => {}
                Err(e @ SessionError::BadMail { .. }) => {
                    tracing::warn!(agent, error = %e, "mail skipped");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until `agent`'s queue has room.
    async fn room_in(&self, agent: &str) -> Result<(), SessionError> {
        let slot = self.inner.owned(agent).await?;
        loop {
            // Listening before looking, so that room made in between is not missed.
            let room = slot.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            let gone = slot.gone.load(std::sync::atomic::Ordering::Acquire);
            if gone || slot.agent.lock().await.record.queued() < self.inner.limits.queue {
                return Ok(());
            }
            room.await;
        }
    }

    /// [`Agents::mail`], waiting while the agent's queue is full and trying again while the
    /// store fails.
    async fn deliver(&self, agent: &str, message: Message) -> Result<u64, SessionError> {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.mail(agent, message.clone()).await {
                Err(SessionError::QueueFull { .. }) => self.room_in(agent).await?,
                Err(SessionError::Store(e)) => {
                    tracing::warn!(agent, error = %e, "mail not queued: the store failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                done => return done,
            }
        }
    }
}
