//! The in-process bus: the conformance suite on tokio's paused clock, so that every ack
//! deadline passes exactly when the test's time does, and what only the in-process bus
//! promises (deadlines to the instant, a bus that closes, cancel-safe receives).

mod common;

use std::time::Duration;

use common::name;
use plan_agents::bus::{
    Bus, BusError, BusLimits, Consumer, DeadLetter, Delivery, Failure, InMemory, Message,
    Responder, Subscription,
};
use plan_agents::bus_conformance;
use plan_agents::testkit::LIMITS;
use tokio::time::Instant;

async fn bus() -> InMemory {
    InMemory::with_limits(LIMITS).unwrap()
}

bus_conformance!(conformance, bus(), start_paused = true);

#[tokio::test(start_paused = true)]
async fn a_delivery_is_redelivered_exactly_at_its_ack_deadline() {
    let bus = bus().await;
    let mailbox = name("timed");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    bus.send(&mailbox, Message::new("job")).await.unwrap();
    let start = Instant::now();
    let mut held = Vec::new();
    for attempt in 1..=LIMITS.max_deliveries {
        let delivery = consumer.recv().await.unwrap();
        assert_eq!(delivery.attempt(), attempt);
        assert_eq!(start.elapsed(), LIMITS.ack_deadline * (attempt - 1));
        held.push(delivery);
    }
    // One tick before the last deadline it is still in flight; at it, it is dead.
    tokio::time::sleep(LIMITS.ack_deadline - Duration::from_millis(1)).await;
    assert!(bus.dead_letters(&mailbox).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(1)).await;
    let dead = bus.dead_letters(&mailbox).await.unwrap();
    assert_eq!((dead.len(), dead[0].failure), (1, Failure::Expired));
    // An ack after the deadline, once the message is gone, changes nothing.
    held.pop().unwrap().ack().await.unwrap();
    assert_eq!(bus.dead_letters(&mailbox).await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_receive_that_is_cancelled_takes_no_message() {
    let bus = bus().await;
    let mailbox = name("cancel");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(1), consumer.recv())
            .await
            .is_err()
    );
    bus.send(&mailbox, Message::new("kept")).await.unwrap();
    let delivery = consumer.recv().await.unwrap();
    assert_eq!(
        (delivery.attempt(), delivery.message().payload().as_ref()),
        (1, &b"kept"[..])
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_delivery_is_dead_lettered_as_dropped_on_its_last_attempt() {
    let bus = bus().await;
    let mailbox = name("dropped");
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    bus.send(&mailbox, Message::new("x")).await.unwrap();
    for _ in 0..LIMITS.max_deliveries {
        drop(consumer.recv().await.unwrap());
    }
    let dead = bus.dead_letters(&mailbox).await.unwrap();
    assert_eq!((dead.len(), dead[0].failure), (1, Failure::Dropped));
    // Replaying waits for room like any send: the mailbox frees it as messages are acked.
    for i in 0..LIMITS.capacity {
        bus.send(&mailbox, Message::json(&i).unwrap())
            .await
            .unwrap();
    }
    let replay = tokio::spawn({
        let (bus, mailbox) = (bus.clone(), mailbox.clone());
        async move { bus.replay_dead_letters(&mailbox).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!replay.is_finished());
    consumer.recv().await.unwrap().ack().await.unwrap();
    assert_eq!(replay.await.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn once_the_bus_is_gone_receivers_are_told_after_what_is_left() {
    let bus = bus().await;
    let (topic, mailbox, subject) = (name("t"), name("m"), name("s"));
    let mut subscription = bus.subscribe(&topic).await.unwrap();
    let mut consumer = bus.consume(&mailbox).await.unwrap();
    let mut responder = bus.serve(&subject).await.unwrap();
    bus.publish(&topic, Message::new("last")).await.unwrap();
    bus.send(&mailbox, Message::new("last")).await.unwrap();
    drop(bus);
    assert_eq!(subscription.recv().await.unwrap().payload(), "last");
    let err = subscription.recv().await.unwrap_err();
    assert_eq!(err.to_string(), "the bus of `t` is closed");
    // A delivery in flight may yet come back, so the consumer waits for it first.
    let delivery = consumer.recv().await.unwrap();
    let waiting = tokio::spawn(async move { consumer.recv().await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!waiting.is_finished());
    let acked = Instant::now();
    delivery.ack().await.unwrap();
    let err = waiting.await.unwrap().unwrap_err();
    assert!(matches!(err, BusError::Closed { .. }), "{err}");
    // Told by the ack itself, not at the delivery's deadline.
    assert_eq!(acked.elapsed(), Duration::ZERO);
    assert!(matches!(
        responder.recv().await,
        Err(BusError::Closed { .. })
    ));
}

#[test]
fn limits_that_no_queue_could_keep_are_refused() {
    let zero = Duration::ZERO;
    for (limits, reason) in [
        (
            BusLimits {
                capacity: 0,
                ..LIMITS
            },
            "a capacity of 0",
        ),
        (
            BusLimits {
                ack_deadline: zero,
                ..LIMITS
            },
            "an ack deadline under 1 ms",
        ),
        (
            BusLimits {
                max_deliveries: 0,
                ..LIMITS
            },
            "0 deliveries",
        ),
    ] {
        let err = InMemory::with_limits(limits).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("bad bus limits: {reason}")),
            "{err}"
        );
    }
    assert_eq!(InMemory::new().limits(), BusLimits::default());
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_is_reported_on_the_bus_as_a_typed_value() {
    let bus = bus().await;
    let (jobs, alerts) = (name("jobs"), name("alerts"));
    let mut worker = bus.consume(&jobs).await.unwrap();
    let mut watcher = bus.consume(&alerts).await.unwrap();
    // A payload that is not UTF-8, with a header and a priority: all of it must come back.
    let job = Message::new(vec![0u8, 159, 146, 150])
        .with_header("trace", "a1b2")
        .unwrap()
        .with_priority(200);
    bus.send(&jobs, job).await.unwrap();
    for _ in 0..LIMITS.max_deliveries {
        worker.recv().await.unwrap().nack().await.unwrap();
    }
    let dead = bus.dead_letters(&jobs).await.unwrap().remove(0);
    assert_eq!(dead.failure, Failure::Nacked);

    // The watcher is told of it as a `DeadLetter`, which it can replay or store.
    bus.send(&alerts, Message::json(&dead).unwrap())
        .await
        .unwrap();
    let delivery = watcher.recv().await.unwrap();
    let reported: DeadLetter = delivery.message().decode().unwrap();
    delivery.ack().await.unwrap();
    assert_eq!(reported, dead);
    assert_eq!(reported.message.subject(), Some(&jobs));
    assert_eq!(reported.message.payload().as_ref(), [0, 159, 146, 150]);
    assert_eq!(
        (
            reported.message.header("trace"),
            reported.message.priority()
        ),
        (Some("a1b2"), 200)
    );
    assert_eq!(reported.deliveries, LIMITS.max_deliveries);
}
