//! Events as the loop sees them: where they come from, how each is settled, and its id.

use std::future::Future;

use futures::Stream;

use crate::bus::{BusError, Consumer, Delivery, Message, Subscription};

/// The header that names an event.
pub(super) const ID_HEADER: &str = "id";

/// How the ids the reactor makes begin; refused in a header, so that none collides with them.
const AUTO: &str = "auto-";

/// The longest id, so that `reactive/NAME/events/ID` is a valid store key (200 bytes).
const MAX_ID: usize = 100;

/// One event taken from a source, to be settled once its outcome is recorded (or not).
pub(super) trait Arrival: Send {
    /// Whether an event that is not settled as handled comes again (a mailbox's do).
    const REDELIVERED: bool;

    fn message(&self) -> &Message;

    /// Acks (`handled`) or nacks the event, where its source has acks.
    fn settle(self, handled: bool) -> impl Future<Output = Result<(), BusError>> + Send;
}

/// A topic's or a stream's event: nothing to settle.
impl Arrival for Message {
    const REDELIVERED: bool = false;

    fn message(&self) -> &Message {
        self
    }

    async fn settle(self, _handled: bool) -> Result<(), BusError> {
        Ok(())
    }
}

/// A mailbox's delivery.
pub(super) struct Delivered<D>(D);

impl<D: Delivery> Arrival for Delivered<D> {
    const REDELIVERED: bool = true;

    fn message(&self) -> &Message {
        self.0.message()
    }

    async fn settle(self, handled: bool) -> Result<(), BusError> {
        if handled {
            self.0.ack().await
        } else {
            self.0.nack().await
        }
    }
}

/// A topic's messages until the bus closes. A stream keeps its `recv` in flight between
/// polls, so that the loop, waiting on other things too, never cancels one half-way.
pub(super) fn topic<S: Subscription>(
    subscription: S,
) -> impl Stream<Item = Result<Message, BusError>> + Send {
    futures::stream::unfold(subscription, |mut subscription| async move {
        match subscription.recv().await {
            Err(BusError::Closed { .. }) => None,
            next => Some((next, subscription)),
        }
    })
}

/// A mailbox's deliveries until the bus closes.
pub(super) fn mailbox<C: Consumer>(
    consumer: C,
) -> impl Stream<Item = Result<Delivered<C::Delivery>, BusError>> + Send {
    futures::stream::unfold(consumer, |mut consumer| async move {
        match consumer.recv().await {
            Err(BusError::Closed { .. }) => None,
            next => Some((next.map(Delivered), consumer)),
        }
    })
}

/// The event's own id, from its `id` header: `Ok(None)` without one, `Err(why)` for one that
/// cannot name a store key (or looks like the reactor's own).
pub(super) fn own_id(message: &Message) -> Result<Option<&str>, String> {
    let Some(id) = message.header(ID_HEADER) else {
        return Ok(None);
    };
    let reason = if id.is_empty() || id.len() > MAX_ID {
        "an id is 1 to 100 bytes"
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
    {
        "an id holds only ASCII letters, digits and `_ - . :`"
    } else if id.starts_with('.') {
        "an id does not start with `.`"
    } else if id.starts_with(AUTO) {
        "ids starting with `auto-` are the reactor's own"
    } else {
        return Ok(Some(id));
    };
    let shown: String = id.chars().take(MAX_ID).collect();
    Err(format!(
        "its id `{}` is refused: {reason}",
        shown.escape_default()
    ))
}

/// The id of the `n`th event (from 1) of loop `loop_number`, for an event without one.
pub(super) fn auto_id(loop_number: u64, n: u64) -> String {
    format!("{AUTO}{loop_number}-{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: &str) -> Result<Option<String>, String> {
        let message = Message::new("").with_header(ID_HEADER, value).unwrap();
        own_id(&message).map(|id| id.map(str::to_owned))
    }

    #[test]
    fn ids_that_could_not_name_one_store_key_are_refused() {
        assert_eq!(
            id("ticket-7:v2.1_a"),
            Ok(Some("ticket-7:v2.1_a".to_owned()))
        );
        assert_eq!(own_id(&Message::new("")), Ok(None));
        for (bad, reason) in [
            ("", "1 to 100 bytes"),
            (&"x".repeat(101), "1 to 100 bytes"),
            ("a/b", "only ASCII letters"),
            ("a b", "only ASCII letters"),
            ("ü", "only ASCII letters"),
            (".hidden", "does not start with `.`"),
            ("auto-1-1", "the reactor's own"),
        ] {
            let err = id(bad).unwrap_err();
            assert!(err.starts_with("its id `"), "{bad}: {err}");
            assert!(err.contains(reason), "{bad}: {err}");
        }
        assert_eq!(
            id("ü").unwrap_err(),
            "its id `\\u{fc}` is refused: an id holds only ASCII letters, digits and `_ - . :`"
        );
    }
}
