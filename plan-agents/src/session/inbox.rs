//! Mail from the bus: a mailbox's or a topic's messages, forwarded into an agent's queue.

use plan_state::store::Store;

use super::{Agents, SessionError};
use crate::bus::{Consumer, Delivery, Message, Subscription};

impl<S: Store + 'static> Agents<S> {
    /// Forwards every message of a mailbox to `agent` as [mail](Agents::mail), until the
    /// consumer fails or the agent is gone or stopped; spawn it.
    ///
    /// A message is acked once it is in the agent's record in the store, so none is lost
    /// between the two. While the agent's queue is full the next message waits, and the
    /// mailbox fills up behind it: senders are held back, nothing is dropped. A message that
    /// is not JSON is nacked, and ends in the mailbox's dead letters.
    pub async fn forward_mailbox<C: Consumer>(
        &self,
        mut consumer: C,
        agent: &str,
    ) -> Result<(), SessionError> {
        loop {
            let delivery = consumer.recv().await?;
            match self.mail_when_room(agent, delivery.message().clone()).await {
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
            match self.mail_when_room(agent, message).await {
                Ok(_) => {}
                Err(e @ SessionError::BadMail { .. }) => {
                    tracing::warn!(agent, error = %e, "mail skipped")
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`Agents::mail`], waiting while the agent's queue is full.
    async fn mail_when_room(&self, agent: &str, message: Message) -> Result<u64, SessionError> {
        let slot = self.inner.slot(agent)?;
        loop {
            // Listening before trying, so that room made in between is not missed.
            let room = slot.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.mail(agent, message.clone()).await {
                Err(SessionError::QueueFull { .. }) => room.await,
                done => return done,
            }
        }
    }
}
