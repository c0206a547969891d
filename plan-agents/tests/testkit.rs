//! The kit catches a broken backend: a bus that does not hold to the limits it was given
//! (here, one with other limits than the suite's) fails the properties that need them, and
//! passes the others.

use plan_agents::bus::{BusLimits, InMemory};
use plan_agents::testkit::{self, LIMITS};

/// A bus whose mailboxes and topics hold twice what the suite was told, and that delivers a
/// message once more before dead-lettering it.
fn broken() -> InMemory {
    InMemory::with_limits(BusLimits {
        capacity: 2 * LIMITS.capacity,
        max_deliveries: LIMITS.max_deliveries + 1,
        ..LIMITS
    })
    .unwrap()
}

/// Whether `property` panics (fails).
async fn fails<F: Future<Output = ()> + Send + 'static>(property: F) -> bool {
    tokio::spawn(property).await.is_err_and(|e| e.is_panic())
}

#[tokio::test(start_paused = true)]
async fn a_bus_that_breaks_its_limits_fails_the_properties_that_need_them() {
    assert!(fails(testkit::a_full_mailbox_holds_the_sender_back_and_loses_nothing(broken())).await);
    assert!(
        fails(testkit::a_slow_subscriber_holds_the_publisher_back_and_misses_nothing(broken()))
            .await
    );
    assert!(fails(testkit::a_message_whose_deadlines_all_pass_is_dead_lettered(broken())).await);
    // What does not depend on them still holds.
    assert!(!fails(testkit::a_nacked_message_is_delivered_again(broken())).await);
    assert!(!fails(testkit::competing_consumers_never_share_a_message(broken())).await);
    assert!(!fails(testkit::a_request_gets_its_reply_or_a_clear_error(broken())).await);
}
