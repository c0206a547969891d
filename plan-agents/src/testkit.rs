//! The bus conformance suite, for a backend of your own (feature `testkit`): what every
//! [`Bus`] must do, one property per public async fn, each given a fresh bus.
//!
//! One call of [`bus_conformance!`](crate::bus_conformance) in a file of your `tests/` gives
//! a `#[tokio::test]` per property, in a module of the name you give, each with a bus of its
//! own from the async block you give. The bus must have the limits [`LIMITS`] (small, so that
//! the suite fills queues). The block gives the bus, or the bus and whatever must live as
//! long as it (a server): see [`Fresh`]. The tests run on tokio's multi-threaded runtime
//! (two workers) unless further arguments (`tokio::test`'s) say otherwise; your
//! `[dev-dependencies]` need `tokio` with `macros` and `rt-multi-thread` (or what those
//! arguments ask for: `test-util` for `start_paused`).
//!
//! The same code runs on tokio's paused clock (`start_paused = true`, for a bus in process:
//! deadlines pass exactly, at once) and on real time (a server): a wait for something that
//! must *not* happen lasts [`QUIET`], and a wait for something that must happen fails only
//! after [`PATIENCE`].
//!
//! ```
//! use plan_agents::bus::InMemory;
//! use plan_agents::testkit::LIMITS;
//!
//! // In `tests/conformance.rs`: twelve tests, `in_memory::competing_consumers_never_share_a_message`…
//! plan_agents::bus_conformance!(in_memory, async { InMemory::with_limits(LIMITS).unwrap() }, start_paused = true);
//!
//! // Each property is also a plain async fn, for a test of your own.
//! # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
//! plan_agents::testkit::a_nacked_message_is_delivered_again(InMemory::with_limits(LIMITS).unwrap()).await;
//! # });
//! ```
//!
//! Every property panics, naming what was wrong, when the bus does not have it.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::bus::{
    Bus, BusError, BusLimits, Consumer, Delivery, Failure, Incoming, Message, Name, Responder,
    Subscription,
};

/// The limits of every bus under test: small, so that the suite fills queues; an ack
/// deadline long enough that a loaded machine redelivers a dropped delivery well before it.
pub const LIMITS: BusLimits = BusLimits {
    capacity: 4,
    max_message: 1 << 20,
    ack_deadline: Duration::from_secs(2),
    max_deliveries: 3,
};

/// How long something that must not happen is given to happen anyway.
pub const QUIET: Duration = Duration::from_millis(300);

/// How long something that must happen may take, on a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What the block given to [`bus_conformance!`](crate::bus_conformance) may give: a bus, or
/// a bus and a guard kept until the test ends (a server killed on drop).
///
/// ```
/// use plan_agents::bus::InMemory;
/// use plan_agents::testkit::Fresh;
///
/// let (_bus, ()) = InMemory::new().split();
/// let (_bus, kept) = (InMemory::new(), "a guard").split();
/// assert_eq!(kept, "a guard");
/// ```
pub trait Fresh {
    /// The bus under test.
    type Bus: Bus + Clone + 'static;
    /// What must live as long as the bus.
    type Guard;

    /// The bus, and what must outlive it.
    fn split(self) -> (Self::Bus, Self::Guard);
}

impl<B: Bus + Clone + 'static> Fresh for B {
    type Bus = B;
    type Guard = ();

    fn split(self) -> (B, ()) {
        (self, ())
    }
}

impl<B: Bus + Clone + 'static, G> Fresh for (B, G) {
    type Bus = B;
    type Guard = G;

    fn split(self) -> (B, G) {
        self
    }
}

/// One `#[tokio::test]` per property of the [bus conformance suite](crate::testkit), in a
/// module named `$name`, each with a fresh bus from `$fresh` (an async block, evaluated in
/// each test, giving a [`Fresh`](crate::testkit::Fresh): a bus, or a bus and a guard). Any
/// further arguments are given to `tokio::test` instead of its default here,
/// `flavor = "multi_thread", worker_threads = 2` (a server's real time);
/// `start_paused = true` suits a bus in process. The module sees the items of the file it is
/// called in.
///
/// ```
/// use plan_agents::bus::InMemory;
/// use plan_agents::testkit::LIMITS;
///
/// plan_agents::bus_conformance!(in_memory, async { InMemory::with_limits(LIMITS).unwrap() }, start_paused = true);
/// ```
#[macro_export]
macro_rules! bus_conformance {
    ($name:ident, $fresh:expr $(,)?) => {
        $crate::bus_conformance!($name, $fresh, flavor = "multi_thread", worker_threads = 2);
    };
    ($name:ident, $fresh:expr, $($args:tt)+) => {
        $crate::bus_conformance!(@tests $name [$fresh] ($($args)+)
            topics_fan_out_to_every_subscriber
            a_topic_without_subscribers_holds_nobody_back
            a_slow_subscriber_holds_the_publisher_back_and_misses_nothing
            competing_consumers_never_share_a_message
            a_full_mailbox_holds_the_sender_back_and_loses_nothing
            a_nacked_message_is_delivered_again
            a_consumer_that_dies_before_acking_has_its_message_redelivered_to_another
            a_delivery_past_its_ack_deadline_is_delivered_again
            a_poison_message_is_dead_lettered_and_can_be_replayed
            a_message_whose_deadlines_all_pass_is_dead_lettered
            a_request_gets_its_reply_or_a_clear_error
            competing_responders_answer_each_request_once
        );
    };
    (@tests $name:ident [$fresh:expr] $args:tt $($property:ident)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test $args]
                async fn $property() {
                    let (bus, _guard) = $crate::testkit::Fresh::split($fresh.await);
                    $crate::testkit::$property(bus).await;
                }
            )*
        }
    };
}

fn name(name: &str) -> Name {
    Name::new(name).expect("the suite's names are valid")
}

/// `future`'s output, or a panic naming `what` if it takes longer than [`PATIENCE`]: how
/// the suite waits for what must happen.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use plan_agents::testkit::within;
///
/// assert_eq!(within("an answer", async { 42 }).await, 42);
/// # });
/// ```
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing after {PATIENCE:?}"))
}

/// Panics, naming `what`, if `future` finishes within [`QUIET`]: how the suite checks that
/// something does not happen.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// use plan_agents::testkit::stays_pending;
///
/// stays_pending("a message nobody sent", std::future::pending::<()>()).await;
/// # });
/// ```
pub async fn stays_pending<F: Future>(what: &str, future: F) {
    if tokio::time::timeout(QUIET, future).await.is_ok() {
        panic!("{what}: it should not have happened");
    }
}

fn numbered(i: usize) -> Message {
    Message::json(&i).unwrap()
}

fn number(message: &Message) -> usize {
    message.decode().unwrap()
}

/// Every subscriber of a topic gets every message published on it, in order, with its subject,
/// headers and priority; a subscriber gets only what is published after it subscribed.
pub async fn topics_fan_out_to_every_subscriber<B: Bus>(bus: B) {
    let topic = name("events");
    let mut a = bus.subscribe(&topic).await.unwrap();
    let mut b = bus.subscribe(&topic).await.unwrap();
    for i in 0..LIMITS.capacity {
        let message = numbered(i).with_header("kind", "tick").unwrap();
        bus.publish(&topic, message.with_priority(9)).await.unwrap();
    }
    for subscriber in [&mut a, &mut b] {
        for i in 0..LIMITS.capacity {
            let message = within("a published message", subscriber.recv())
                .await
                .unwrap();
            assert_eq!(number(&message), i);
            assert_eq!(message.subject(), Some(&topic));
            assert_eq!(message.header("kind"), Some("tick"));
            assert_eq!(message.priority(), 9);
            assert_eq!(message.headers().count(), 1, "only the sender's headers");
        }
    }
    // A subscriber gets what is published after it subscribed, not before.
    let mut late = bus.subscribe(&topic).await.unwrap();
    bus.publish(&topic, Message::new("after")).await.unwrap();
    for subscriber in [&mut a, &mut b, &mut late] {
        let message = within("the later message", subscriber.recv())
            .await
            .unwrap();
        assert_eq!(message.payload(), "after");
    }
    stays_pending("a message nobody published", late.recv()).await;
}

/// Publishing on a topic nobody listens to, or only a gone subscriber did, never waits.
pub async fn a_topic_without_subscribers_holds_nobody_back<B: Bus>(bus: B) {
    let topic = name("unheard");
    // Past the capacity: nobody's queue is there to fill.
    for i in 0..3 * LIMITS.capacity {
        within("a publish", bus.publish(&topic, numbered(i)))
            .await
            .unwrap();
    }
    // Nor does a subscriber that is gone.
    let gone = bus.subscribe(&topic).await.unwrap();
    drop(gone);
    let mut here = bus.subscribe(&topic).await.unwrap();
    let publisher = async {
        for i in 0..3 * LIMITS.capacity {
            bus.publish(&topic, numbered(i)).await.unwrap();
        }
    };
    let subscriber = async {
        for i in 0..3 * LIMITS.capacity {
            assert_eq!(number(&here.recv().await.unwrap()), i);
        }
    };
    within("publishing past a gone subscriber", async {
        tokio::join!(publisher, subscriber)
    })
    .await;
}

/// A subscriber that reads slowly fills its queue ([`LIMITS`]'s capacity) and then holds the
/// publisher back; it misses nothing, and gets everything in order.
pub async fn a_slow_subscriber_holds_the_publisher_back_and_misses_nothing<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let topic = name("firehose");
    let total = 3 * LIMITS.capacity;
    let mut slow = bus.subscribe(&topic).await.unwrap();
    let (published, mut count) = tokio::sync::watch::channel(0);
    let publisher = tokio::spawn({
        let (bus, topic) = (bus.clone(), topic.clone());
        async move {
            for i in 0..total {
                bus.publish(&topic, numbered(i)).await.unwrap();
                published.send_replace(i + 1);
            }
        }
    });
    // The publisher fills the subscriber's queue, then waits.
    within("a full queue", count.wait_for(|&n| n == LIMITS.capacity))
        .await
        .unwrap();
    stays_pending("a publish past a full queue", count.changed()).await;
    assert_eq!(*count.borrow(), LIMITS.capacity);
    // Each message read makes room for one more, and every message arrives, in order.
    for i in 0..total {
        let message = within("the next message", slow.recv()).await.unwrap();
        assert_eq!(number(&message), i);
        assert!(
            *count.borrow() <= i + 1 + LIMITS.capacity,
            "the queue overflowed"
        );
    }
    within("the publisher", publisher).await.unwrap();
    stays_pending("a message past the last", slow.recv()).await;
}

/// Two consumers of one mailbox: each message goes to exactly one of them, once.
pub async fn competing_consumers_never_share_a_message<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let mailbox = name("work");
    let total = 40;
    let consumers: Vec<_> = {
        let mut consumers = Vec::new();
        for _ in 0..2 {
            consumers.push(bus.consume(&mailbox).await.unwrap());
        }
        consumers
    };
    let (taken, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let workers: Vec<_> = consumers
        .into_iter()
        .enumerate()
        .map(|(worker, mut consumer)| {
            let taken = taken.clone();
            tokio::spawn(async move {
                loop {
                    let delivery = consumer.recv().await.unwrap();
                    taken
                        .send((worker, delivery.attempt(), number(delivery.message())))
                        .unwrap();
                    delivery.ack().await.unwrap();
                }
            })
        })
        .collect();
    for i in 0..total {
        within("a send", bus.send(&mailbox, numbered(i)))
            .await
            .unwrap();
    }
    let mut got = BTreeSet::new();
    for _ in 0..total {
        let (_, attempt, i) = within("a delivery", seen.recv()).await.unwrap();
        assert_eq!(attempt, 1, "message {i} was delivered twice");
        assert!(got.insert(i), "message {i} went to two consumers");
    }
    assert_eq!(got, (0..total).collect());
    stays_pending("a delivery past the last", seen.recv()).await;
    for worker in workers {
        worker.abort();
    }
}

/// A mailbox at its capacity holds the sender back until a delivery is acked (a delivery not
/// yet acked still takes room); nothing is lost.
pub async fn a_full_mailbox_holds_the_sender_back_and_loses_nothing<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let mailbox = name("backlog");
    let total = 3 * LIMITS.capacity;
    let (sent, mut count) = tokio::sync::watch::channel(0);
    let sender = tokio::spawn({
        let (bus, mailbox) = (bus.clone(), mailbox.clone());
        async move {
            for i in 0..total {
                bus.send(&mailbox, numbered(i)).await.unwrap();
                sent.send_replace(i + 1);
            }
        }
    });
    within("a full mailbox", count.wait_for(|&n| n == LIMITS.capacity))
        .await
        .unwrap();
    stays_pending("a send to a full mailbox", count.changed()).await;
    // A delivery not yet acked still takes room: only its ack frees it.
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    let first = within("the first message", consumer.recv()).await.unwrap();
    stays_pending("a send before the ack", count.changed()).await;
    assert_eq!(number(first.message()), 0);
    first.ack().await.unwrap();
    for i in 1..total {
        let delivery = within("the next message", consumer.recv()).await.unwrap();
        assert_eq!((number(delivery.message()), delivery.attempt()), (i, 1));
        assert!(
            *count.borrow() <= i + LIMITS.capacity,
            "the mailbox overflowed"
        );
        delivery.ack().await.unwrap();
    }
    within("the sender", sender).await.unwrap();
    stays_pending("a message past the last", consumer.recv()).await;
}

/// A nacked message is delivered again, as attempt 2, with its payload, priority and subject.
pub async fn a_nacked_message_is_delivered_again<B: Bus>(bus: B) {
    let mailbox = name("retry");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    bus.send(&mailbox, Message::new("flaky").with_priority(3))
        .await
        .unwrap();
    let first = within("the message", consumer.recv()).await.unwrap();
    assert_eq!(
        (first.attempt(), first.message().payload().as_ref()),
        (1, &b"flaky"[..])
    );
    first.nack().await.unwrap();
    let second = within("the redelivery", consumer.recv()).await.unwrap();
    assert_eq!(second.attempt(), 2);
    assert_eq!(second.message().payload(), "flaky");
    assert_eq!(second.message().priority(), 3);
    assert_eq!(second.message().subject(), Some(&mailbox));
    second.ack().await.unwrap();
    stays_pending("a delivery of an acked message", consumer.recv()).await;
    assert!(bus.dead_letters(&mailbox).await.unwrap().is_empty());
}

/// A delivery dropped unacked (its consumer's task panicked) is delivered again to another
/// consumer, well before its ack deadline.
pub async fn a_consumer_that_dies_before_acking_has_its_message_redelivered_to_another<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let mailbox = name("jobs");
    let mut doomed = bus.consume(&mailbox).await.unwrap();
    let mut survivor = bus.consume(&mailbox).await.unwrap();
    bus.send(&mailbox, Message::new("job")).await.unwrap();
    let dying = tokio::spawn(async move {
        let delivery = doomed.recv().await.unwrap();
        assert_eq!(delivery.attempt(), 1);
        panic!("the consumer dies holding its delivery");
    });
    assert!(
        within("the dying consumer", dying)
            .await
            .unwrap_err()
            .is_panic()
    );
    // Well before the ack deadline: a dropped delivery is a failed one.
    let delivery = tokio::time::timeout(LIMITS.ack_deadline / 2, survivor.recv())
        .await
        .expect("the message should be redelivered before its ack deadline")
        .unwrap();
    assert_eq!(
        (delivery.attempt(), delivery.message().payload().as_ref()),
        (2, &b"job"[..])
    );
    delivery.ack().await.unwrap();
    stays_pending("a delivery of an acked message", survivor.recv()).await;
}

/// A delivery held past its ack deadline is delivered again, not before; the first holder's
/// late nack changes nothing.
pub async fn a_delivery_past_its_ack_deadline_is_delivered_again<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let mailbox = name("slow-jobs");
    let mut hung = bus.consume(&mailbox).await.unwrap();
    let mut other = bus.consume(&mailbox).await.unwrap();
    bus.send(&mailbox, Message::new("job")).await.unwrap();
    let held = within("the message", hung.recv()).await.unwrap();
    let taken = Instant::now();
    stays_pending("a redelivery before the deadline", other.recv()).await;
    let again = within("the redelivery", other.recv()).await.unwrap();
    // A server's timer starts when it sends, a little before the first consumer has it.
    let waited = taken.elapsed();
    assert!(
        waited + Duration::from_millis(100) >= LIMITS.ack_deadline,
        "redelivered after {waited:?}, before the deadline"
    );
    assert_eq!(again.attempt(), 2);
    again.ack().await.unwrap();
    // The hung consumer's late word changes nothing: the message is handled.
    held.nack().await.unwrap();
    stays_pending("a delivery of an acked message", other.recv()).await;
    assert!(bus.dead_letters(&mailbox).await.unwrap().is_empty());
}

/// A message nacked on each of its [`LIMITS`]`.max_deliveries` attempts is dead-lettered, as
/// nacked, with its payload, headers and subject, while the others are handled; replayed, it
/// is a new message with all its attempts ahead.
pub async fn a_poison_message_is_dead_lettered_and_can_be_replayed<B: Bus>(bus: B) {
    let mailbox = name("parse");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    let poison = Message::new("{ not json")
        .with_header("from", "ada")
        .unwrap();
    bus.send(&mailbox, poison).await.unwrap();
    bus.send(&mailbox, numbered(7)).await.unwrap();
    let (mut handled, mut poisoned) = (Vec::new(), 0);
    while poisoned < LIMITS.max_deliveries || handled.is_empty() {
        let delivery = within("a delivery", consumer.recv()).await.unwrap();
        match delivery.message().decode::<usize>() {
            Ok(n) => {
                handled.push(n);
                delivery.ack().await.unwrap();
            }
            Err(err) => {
                assert!(matches!(err, BusError::Decode { .. }), "{err}");
                poisoned += 1;
                assert_eq!(delivery.attempt(), poisoned);
                delivery.nack().await.unwrap();
            }
        }
    }
    assert_eq!(handled, [7]);
    stays_pending("a delivery past the last allowed", consumer.recv()).await;
    let dead = bus.dead_letters(&mailbox).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].message.payload(), "{ not json");
    assert_eq!(dead[0].message.header("from"), Some("ada"));
    assert_eq!(dead[0].message.subject(), Some(&mailbox));
    assert_eq!(
        (dead[0].deliveries, dead[0].failure),
        (LIMITS.max_deliveries, Failure::Nacked)
    );
    // Replayed, it is a new message to the mailbox, with all its deliveries ahead of it.
    assert_eq!(bus.replay_dead_letters(&mailbox).await.unwrap(), 1);
    assert!(bus.dead_letters(&mailbox).await.unwrap().is_empty());
    let replayed = within("the replayed message", consumer.recv())
        .await
        .unwrap();
    assert_eq!(replayed.attempt(), 1);
    assert_eq!(replayed.message().payload(), "{ not json");
    assert_eq!(replayed.message().header("from"), Some("ada"));
    replayed.ack().await.unwrap();
    assert_eq!(bus.replay_dead_letters(&mailbox).await.unwrap(), 0);
}

/// A message whose every delivery is held past its ack deadline is dead-lettered once, as
/// expired, after exactly `max_deliveries` attempts.
pub async fn a_message_whose_deadlines_all_pass_is_dead_lettered<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let mailbox = name("stuck");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    bus.send(&mailbox, Message::new("hangs every consumer"))
        .await
        .unwrap();
    // A hung consumer: it takes each delivery and holds it, never acked, so that each
    // deadline passes; it keeps asking, since a backend may move the letter to the dead
    // letters only when it is next asked for.
    let (seen, mut attempts) = tokio::sync::mpsc::unbounded_channel();
    let hung = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let delivery = consumer.recv().await?;
            seen.send(delivery.attempt()).unwrap();
            held.push(delivery);
        }
        #[allow(unreachable_code)]
        Ok::<_, BusError>(held)
    });
    within("the dead letter", async {
        while bus.dead_letters(&mailbox).await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    tokio::time::sleep(QUIET).await;
    if hung.is_finished() {
        let ended = hung.await.map(|r| r.map(|held| held.len()));
        panic!("the hung consumer stopped: {ended:?}");
    }
    hung.abort();
    let mut got = Vec::new();
    while let Ok(attempt) = attempts.try_recv() {
        got.push(attempt);
    }
    let expected: Vec<u32> = (1..=LIMITS.max_deliveries).collect();
    assert_eq!(got, expected);
    let dead = bus.dead_letters(&mailbox).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0].deliveries, dead[0].failure),
        (LIMITS.max_deliveries, Failure::Expired)
    );
    // The hung consumer letting go late (its task ended) dead-letters nothing twice.
    tokio::time::sleep(QUIET).await;
    assert_eq!(bus.dead_letters(&mailbox).await.unwrap().len(), 1);
}

/// A request gets its reply, with its headers seen by the responder; with no responder, past
/// its deadline or dropped unanswered, it is a clear error ([`BusError::NoResponders`],
/// [`BusError::Timeout`], [`BusError::Unanswered`]); a late reply is no error.
pub async fn a_request_gets_its_reply_or_a_clear_error<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let subject = name("adder");
    let err = bus
        .request(&subject, numbered(1), PATIENCE)
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::NoResponders { .. }), "{err}");
    assert_eq!(err.to_string(), "no responder serves `adder`");

    let mut responder = bus.serve(&subject).await.unwrap();
    let serving = tokio::spawn(async move {
        // Replies to the first request, holds the second past its deadline, drops the third.
        let first = responder.recv().await.unwrap();
        let n: usize = first.message().decode().unwrap();
        assert_eq!(first.message().header("trace"), Some("t-1"));
        first.reply(numbered(n + 1)).await.unwrap();
        let second = responder.recv().await.unwrap();
        let third = responder.recv().await.unwrap();
        drop(third);
        second
    });
    let request = numbered(41).with_header("trace", "t-1").unwrap();
    let reply = within("a reply", bus.request(&subject, request, PATIENCE))
        .await
        .unwrap();
    assert_eq!(number(&reply), 42);

    let started = Instant::now();
    let err = bus.request(&subject, numbered(0), QUIET).await.unwrap_err();
    assert!(started.elapsed() >= QUIET);
    assert!(
        matches!(err, BusError::Timeout { after, .. } if after == QUIET),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("no reply to the request on `adder` within {QUIET:?}")
    );

    let err = within(
        "an unanswered request",
        bus.request(&subject, numbered(0), PATIENCE),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BusError::Unanswered { .. }), "{err}");
    assert!(err.to_string().contains("`adder`"), "{err}");
    // A reply after the requester gave up goes nowhere, and is no error.
    let late = within("the responder", serving).await.unwrap();
    late.reply(numbered(0)).await.unwrap();
}

/// Two responders of one subject: each request is answered once, by one of them.
pub async fn competing_responders_answer_each_request_once<B>(bus: B)
where
    B: Bus + Clone + 'static,
{
    let subject = name("doubler");
    let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let mut responders = Vec::new();
    for id in 0..2 {
        let mut responder = bus.serve(&subject).await.unwrap();
        let answered = answered.clone();
        responders.push(tokio::spawn(async move {
            loop {
                let request = responder.recv().await.unwrap();
                let n: usize = request.message().decode().unwrap();
                answered.send((id, n)).unwrap();
                request.reply(numbered(2 * n)).await.unwrap();
            }
        }));
    }
    let requests: Vec<_> = (0..10)
        .map(|n| {
            let (bus, subject) = (bus.clone(), subject.clone());
            tokio::spawn(async move { bus.request(&subject, numbered(n), PATIENCE).await })
        })
        .collect();
    for (n, request) in requests.into_iter().enumerate() {
        let reply = within("a reply", request).await.unwrap().unwrap();
        assert_eq!(number(&reply), 2 * n);
    }
    let mut seen = BTreeSet::new();
    for _ in 0..10 {
        let (_, n) = answers.recv().await.unwrap();
        assert!(seen.insert(n), "request {n} was answered twice");
    }
    assert!(answers.try_recv().is_err());
    for responder in responders {
        responder.abort();
    }
}
