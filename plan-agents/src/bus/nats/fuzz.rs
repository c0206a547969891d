//! Property tests of what a NATS server hands the bus from any publisher, not only this
//! one: headers turned into a message (priorities, the bus's own headers, the server's) and
//! dead letters' failure words. Nothing panics; whatever is malformed is dropped or read as
//! the default, never taken for the bus's own. The longer run:
//! `PROPTEST_CASES=100000 cargo test -p plan-agents --features nats --lib --release fuzz`.

use std::str::FromStr;

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue};
use bytes::Bytes;
use proptest::prelude::*;

use super::{PRIORITY, from_nats, is_reserved, to_headers};
use crate::bus::{Failure, Message, Name};

/// Header names as any publisher may send them: the bus's, the server's, and any other.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(PRIORITY.to_owned()),
        Just("plan-priority".to_owned()),
        Just("Plan-Deliveries".to_owned()),
        Just("Nats-Msg-Id".to_owned()),
        "[!-~]{1,20}",
        ".{0,20}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..400).prop_map(|n| n.to_string()),
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        ".{0,40}",
    ]
}

proptest! {
    #[test]
    fn any_headers_from_the_server_make_a_message_without_the_buss_own(
        headers in prop::collection::vec((header_name(), header_value()), 0..8),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in &headers {
            // A name or a value that NATS could not carry never reaches the bus.
            if let (Ok(name), Ok(value)) = (HeaderName::from_str(name), HeaderValue::from_str(value)) {
                map.append(name, value);
            }
        }
        let subject = Name::new("inbox").unwrap();
        let message = from_nats(&subject, Bytes::from(payload.clone()), Some(&map));
        prop_assert_eq!(message.payload().as_ref(), payload.as_slice());
        prop_assert_eq!(message.subject(), Some(&subject));
        for (name, value) in message.headers() {
            prop_assert!(!is_reserved(name), "{}", name);
            prop_assert_eq!(map.get(name).map(|v| v.as_str()), Some(value));
        }
        // The priority is the highest `Plan-Priority`, in any case, that is a number from 0
        // to 255; else 0.
        let said = map
            .iter()
            .filter(|(name, _)| AsRef::<str>::as_ref(*name).eq_ignore_ascii_case(PRIORITY))
            .filter_map(|(_, values)| values.first()?.as_str().parse::<u8>().ok())
            .max()
            .unwrap_or(0);
        prop_assert_eq!(message.priority(), said);
    }

    #[test]
    fn every_message_the_bus_takes_crosses_nats_as_it_was(
        headers in prop::collection::vec((".{1,20}", ".{0,40}"), 0..6),
        priority in any::<u8>(),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut message = Message::new(payload).with_priority(priority);
        for (name, value) in headers {
            // A header the bus refuses is an error, not a panic; the rest must cross.
            if let Ok(with) = message.clone().with_header(name, value) {
                message = with;
            }
        }
        let subject = Name::new("inbox").unwrap();
        let message = message.sent_to(&subject);
        let headers = to_headers(&message, HeaderMap::new());
        let back = from_nats(&subject, message.payload().clone(), Some(&headers));
        prop_assert_eq!(back, message);
    }

    #[test]
    fn only_the_three_failure_words_are_read_as_failures(word in ".{0,12}") {
        let parsed = Failure::parse(&word);
        prop_assert_eq!(parsed.is_some(), ["nacked", "dropped", "expired"].contains(&word.as_str()));
        if let Some(failure) = parsed {
            prop_assert_eq!(failure.as_str(), word.as_str());
        }
    }
}
