//! Property tests of what the agent layer reads from outside: bus names, headers and
//! payloads as any caller gives them, and agents' records as a store hands them back (written
//! by another version, a hand, or a disk that lost half a write). Arbitrary bytes and
//! records built field by field: nothing panics, every refusal is a typed error, and what an
//! error echoes is bounded.
//!
//! The headers NATS delivers, which only the crate itself can turn into a message, are
//! fuzzed in `src/bus/nats.rs`'s unit tests (feature `nats`).
//!
//! A few hundred cases each by default; a longer run for maintainers:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test -p plan-agents --test fuzz --release
//! PROPTEST_CASES=100000 cargo test -p plan-agents --features nats --lib --release fuzz
//! ```

use std::sync::Arc;
use std::time::Duration;

use plan_agents::bus::{BusError, Message, Name};
use plan_agents::schedule::Schedule;
use plan_agents::session::{AgentLimits, Agents, SessionError, Sleep, TaskSpec, Turn};
use plan_runtime::prelude::*;
use plan_state::store::{Expect, InMemory, Key, Store};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The longest `Display` of an error about one given string: its sentence, 64 bytes of the
/// string (of up to 4 bytes a char, escaped by `Debug` to at most 10), and its length.
const ECHO: usize = 1_024;

/// Strings of any chars, mostly short, sometimes far over every limit.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,80}",
        1 => ".{200,2000}",
        1 => "[a-zA-Z0-9_-]{0,70}",
    ]
}

proptest! {
    #[test]
    fn any_string_is_a_bus_name_or_a_bad_name_error(given in text()) {
        match Name::new(&given) {
            Ok(name) => {
                prop_assert_eq!(name.as_str(), given.as_str());
                prop_assert!((1..=64).contains(&given.len()));
                prop_assert!(given.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            }
            Err(error @ BusError::BadName { .. }) => {
                prop_assert!(error.to_string().len() < ECHO, "{}", error);
                prop_assert!(format!("{error:?}").len() < ECHO, "{:?}", error);
            }
            Err(other) => prop_assert!(false, "not a BadName: {other:?}"),
        }
    }

    #[test]
    fn any_header_is_kept_as_given_or_a_bad_header_error(name in text(), value in text()) {
        match Message::new("").with_header(name.clone(), value.clone()) {
            Ok(message) => {
                prop_assert_eq!(message.header(&name), Some(value.as_str()));
                prop_assert_eq!(message.size(), name.len() + value.len());
            }
            Err(error @ BusError::BadHeader { .. }) => {
                prop_assert!(error.to_string().len() < ECHO, "{}", error);
                prop_assert!(format!("{error:?}").len() < ECHO, "{:?}", error);
            }
            Err(other) => prop_assert!(false, "not a BadHeader: {other:?}"),
        }
    }

    #[test]
    fn any_payload_decodes_or_is_a_decode_error(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        let message = Message::new(payload);
        for decoded in [
            message.decode::<Value>().map(drop),
            message.decode::<TaskSpec>().map(drop),
            message.decode::<Sleep>().map(drop),
        ] {
            prop_assert!(matches!(decoded, Ok(()) | Err(BusError::Decode { .. })), "{:?}", decoded);
        }
    }

    #[test]
    fn any_cron_pattern_is_a_schedule_or_a_schedule_error(pattern in prop_oneof![
        3 => text(),
        // Six fields, each a value, a range, a step, a list or a wildcard: mostly valid.
        3 => prop::collection::vec(r"(\*|[0-9]{1,2}|[0-9]{1,2}-[0-9]{1,2}|\*/[0-9]{1,2}|[0-9],[0-9]{1,2}|L|[0-9]#[0-9]|MON-FRI)", 5..=7)
            .prop_map(|fields| fields.join(" ")),
    ]) {
        match Schedule::cron(&pattern) {
            Ok(schedule) => {
                // Any time, near the epoch or far past it, has a next time or none.
                for after in [0, 1_700_000_000_000, u64::MAX / 2, u64::MAX] {
                    if let Some(next) = schedule.next_after(after) {
                        prop_assert!(next > after);
                    }
                }
            }
            Err(error) => prop_assert!(error.to_string().len() < ECHO, "{}", error),
        }
    }
}

/// A kind whose turns change nothing.
async fn idle(turn: Turn<Value>) -> Turn<Value> {
    turn
}

/// A sleep as a record keeps it, any field present or not, any value.
fn sleep() -> impl Strategy<Value = Value> {
    (
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u64>()),
        prop::collection::vec(text(), 0..3),
        prop::option::of(any::<u8>()),
    )
        .prop_map(|(duration, until_ms, events, mail)| {
            json!({ "duration": duration, "until_ms": until_ms, "events": events, "mail": mail })
        })
}

/// A queued task as a record keeps it.
fn queued() -> impl Strategy<Value = Value> {
    (any::<u64>(), text(), any::<u8>(), any::<u32>(), any::<bool>()).prop_map(
        |(id, name, priority, attempt, running)| {
            json!({
                "task": { "id": id, "name": name, "input": null, "priority": priority, "attempt": attempt },
                "running": running,
            })
        },
    )
}

/// A schedule as a record keeps it: a period (0 included) or a pattern.
fn recurring() -> impl Strategy<Value = Value> {
    let schedule = prop_oneof![
        any::<u64>().prop_map(|ms| json!({ "every_ms": ms })),
        text().prop_map(|pattern| json!({ "cron": pattern })),
        Just(json!({ "cron": "*/5 * * * * *" })),
    ];
    (schedule, text(), prop::option::of(any::<u64>())).prop_map(|(schedule, name, next_at)| {
        json!({ "schedule": schedule, "task": { "name": name }, "next_at": next_at })
    })
}

/// A record built field by field, each field sometimes of another type or missing.
fn record() -> impl Strategy<Value = Value> {
    let status = prop_oneof![
        Just(json!({ "status": "awake" })),
        Just(json!({ "status": "stopped" })),
        (sleep(), prop::option::of(any::<u64>())).prop_map(
            |(sleep, wake_at)| json!({ "status": "sleeping", "sleep": sleep, "wake_at": wake_at })
        ),
        text().prop_map(|s| json!({ "status": s })),
    ];
    let kind = prop_oneof![Just("idle".to_owned()), text()];
    (
        kind,
        status,
        prop::collection::vec(queued(), 0..4),
        prop::collection::vec(recurring(), 0..3),
        prop_oneof![any::<u64>(), Just(u64::MAX), 0..4u64],
        any::<u8>(),
    )
        .prop_map(|(kind, status, tasks, schedules, next_task, drop_field)| {
            let mut record = json!({
                "kind": kind, "state": null, "status": status, "tasks": tasks,
                "schedules": schedules, "next_task": next_task,
            });
            // Now and then a field goes missing, as from a write another version made.
            let fields = ["kind", "state", "status", "tasks", "schedules", "next_task"];
            if let Some(field) = fields.get(usize::from(drop_field)) {
                record.as_object_mut().unwrap().remove(*field);
            }
            record
        })
}

/// What a store may hold under an agent's record key: a record, or any JSON at all.
fn stored() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => record(),
        1 => text().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

/// Starts agents over `records` (by agent name), then asks each agent for its status and
/// gives it a task: every step succeeds or fails with an error, never a panic.
async fn restore(records: Vec<(String, Value)>) -> Result<(), TestCaseError> {
    let store = Arc::new(InMemory::new());
    for (name, record) in &records {
        let Ok(key) = Key::new(format!("agents/{name}/record")) else {
            continue;
        };
        store
            .write(&key, Expect::Anything, record)
            .await
            .unwrap()
            .unwrap();
    }
    let started = Agents::builder(store)
        .kind("idle", plan! { idle })
        .limits(AgentLimits {
            agents: 2,
            ..AgentLimits::default()
        })
        .start()
        .await;
    let agents = match started {
        Ok(agents) => agents,
        Err(error) => {
            prop_assert!(
                matches!(error, SessionError::Corrupt { .. }),
                "not a Corrupt: {error:?}"
            );
            prop_assert!(error.to_string().len() < 4 * ECHO, "{}", error);
            return Ok(());
        }
    };
    for (name, _) in &records {
        if agents.status(name).await.is_ok() {
            let _ = agents.schedule(name, TaskSpec::new("more")).await;
            let _ = agents.wake(name).await;
            let _ = agents.signal("e").await;
        }
    }
    // Timers of the restored agents fire; turns run.
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    agents.snapshot().await.unwrap();
    let _ = agents.create("new", "idle", None).await;
    agents.shutdown().await;
    Ok(())
}

proptest! {
    #[test]
    fn any_stored_record_is_restored_or_refused_as_corrupt(
        records in prop::collection::vec((r"[a-z]{1,3}|.{0,10}", stored()), 1..4)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(restore(records))?;
    }
}

/// What the fuzzing above found, kept as plain cases.
#[tokio::test(start_paused = true)]
async fn a_record_that_is_a_huge_string_is_corrupt_with_a_short_reason() {
    let store = Arc::new(InMemory::new());
    // Serde quotes a string it did not expect, each `"` escaped: 200,000 bytes of reason.
    let huge = Value::String("\"".repeat(100_000));
    let key = Key::new("agents/a/record").unwrap();
    store
        .write(&key, Expect::Anything, &huge)
        .await
        .unwrap()
        .unwrap();
    let started = Agents::builder(store)
        .kind("idle", plan! { idle })
        .start()
        .await;
    let Err(error @ SessionError::Corrupt { .. }) = started else {
        panic!("restored: {:?}", started.map(drop));
    };
    let shown = error.to_string();
    assert!(
        shown.len() < 1_000 && shown.ends_with(" bytes)"),
        "{shown:.2000}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_record_whose_next_task_id_is_the_last_refuses_a_task_without_panicking() {
    let store = Arc::new(InMemory::new());
    let record = json!({
        "kind": "idle", "state": null, "status": { "status": "awake" },
        "tasks": [], "schedules": [], "next_task": u64::MAX,
    });
    let key = Key::new("agents/a/record").unwrap();
    store
        .write(&key, Expect::Anything, &record)
        .await
        .unwrap()
        .unwrap();
    let agents = Agents::builder(store)
        .kind("idle", plan! { idle })
        .start()
        .await
        .unwrap();
    let refused = agents.schedule("a", TaskSpec::new("t")).await;
    assert!(
        matches!(&refused, Err(SessionError::Corrupt { reason, .. }) if reason.contains("last there is")),
        "{refused:?}"
    );
}
