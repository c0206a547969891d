//! The in-process bus's limits on what a caller gives it: the largest message, on every way
//! in (publish, send, request, reply), and names, which errors echo cut short.

mod common;

use std::time::Duration;

use common::name;
use plan_agents::bus::{
    Bus, BusError, BusLimits, Consumer, Delivery, InMemory, Incoming, Message, Name, Responder,
    Subscription,
};

/// NATS's default `max_payload`, and so the bus's default limit.
const MIB: usize = 1 << 20;

fn of_size(size: usize) -> Message {
    Message::new(vec![b'x'; size])
}

/// Asserts that `result` is the refusal of a message of `size` bytes on `subject`, over
/// `limit`, and that it says how to send larger ones.
fn too_large<T: std::fmt::Debug>(
    result: Result<T, BusError>,
    subject: &str,
    size: usize,
    limit: usize,
) {
    let error = result.unwrap_err();
    let shown = error.to_string();
    assert!(
        matches!(&error, BusError::TooLarge { subject: s, size: z, limit: l }
            if s == subject && *z == size && *l == limit),
        "{error:?}"
    );
    assert!(
        shown.contains(&format!("`{subject}`"))
            && shown.contains(&format!("{size} bytes"))
            && shown.contains(&format!("{limit} bytes"))
            && shown.contains("bus::BusLimits::max_message"),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_message_over_the_default_limit_is_refused_and_one_at_it_goes_through() {
    let bus = InMemory::new();
    assert_eq!(bus.limits().max_message, MIB);
    let (topic, mailbox) = (name("news"), name("inbox"));
    let mut subscriber = bus.subscribe(&topic).await.unwrap();
    let mut consumer = bus.consume(&mailbox).await.unwrap();

    too_large(
        bus.publish(&topic, of_size(MIB + 1)).await,
        "news",
        MIB + 1,
        MIB,
    );
    too_large(
        bus.send(&mailbox, of_size(MIB + 1)).await,
        "inbox",
        MIB + 1,
        MIB,
    );
    bus.publish(&topic, of_size(MIB)).await.unwrap();
    bus.send(&mailbox, of_size(MIB)).await.unwrap();
    // The refused ones left nothing behind: the first message each gets is the one at the
    // limit.
    assert_eq!(subscriber.recv().await.unwrap().payload().len(), MIB);
    let delivery = consumer.recv().await.unwrap();
    assert_eq!(delivery.message().payload().len(), MIB);
    delivery.ack().await.unwrap();

    // Headers count: a payload at the limit with one header is over it.
    let with_header = of_size(MIB - 4).with_header("ab", "cd").unwrap();
    assert_eq!(with_header.size(), MIB);
    bus.send(&mailbox, with_header.clone()).await.unwrap();
    let over = with_header.with_header("e", "").unwrap();
    too_large(bus.send(&mailbox, over).await, "inbox", MIB + 1, MIB);
}

#[tokio::test(start_paused = true)]
async fn a_request_or_a_reply_over_the_limit_is_refused_and_the_requester_told() {
    let limits = BusLimits {
        max_message: 1_000,
        ..BusLimits::default()
    };
    let bus = InMemory::with_limits(limits).unwrap();
    let subject = name("ask");
    let mut responder = bus.serve(&subject).await.unwrap();
    let deadline = Duration::from_secs(5);
    too_large(
        bus.request(&subject, of_size(1_001), deadline).await,
        "ask",
        1_001,
        1_000,
    );

    // The responder answers each request with a reply as large as the request said.
    let answering = tokio::spawn(async move {
        let mut refused = Vec::new();
        for _ in 0..2 {
            let request = responder.recv().await.unwrap();
            let size: usize = request.message().decode().unwrap();
            if let Err(e) = request.reply(of_size(size)).await {
                refused.push(e);
            }
        }
        refused
    });
    let reply = bus
        .request(&subject, Message::json(&1_000).unwrap(), deadline)
        .await
        .unwrap();
    assert_eq!(reply.payload().len(), 1_000);
    let unanswered = bus
        .request(&subject, Message::json(&1_001).unwrap(), deadline)
        .await;
    assert!(
        matches!(unanswered, Err(BusError::Unanswered { .. })),
        "{unanswered:?}"
    );
    let refused = answering.await.unwrap();
    assert_eq!(refused.len(), 1);
    too_large(
        Err::<(), _>(refused.into_iter().next().unwrap()),
        "ask",
        1_001,
        1_000,
    );
}

#[test]
fn a_largest_message_of_0_bytes_is_refused() {
    let zero = BusLimits {
        max_message: 0,
        ..BusLimits::default()
    };
    let error = InMemory::with_limits(zero).unwrap_err();
    assert!(
        matches!(error, BusError::BadLimits { reason } if reason.contains("largest message of 0 bytes")),
        "{error:?}"
    );
}

#[test]
fn a_500000_character_name_or_header_makes_a_short_error() {
    let huge = "a".repeat(500_000);
    for error in [
        Name::new(&huge).unwrap_err(),
        Message::new("").with_header(huge.clone(), "v").unwrap_err(),
    ] {
        let (shown, debug) = (error.to_string(), format!("{error:?}"));
        assert!(shown.len() < 300, "{} bytes: {shown:.500}", shown.len());
        assert!(debug.len() < 300, "{} bytes: {debug:.500}", debug.len());
        assert!(
            shown.contains(&format!("{}… (500000 bytes)", &huge[..64])),
            "{shown}"
        );
    }
}
