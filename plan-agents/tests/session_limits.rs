//! What one caller can make the agents hold, on tokio's paused clock over the in-memory
//! store: agents in all and of each kind, schedules and how often they run, tasks queued per
//! agent however they come, and names, which errors echo cut short.

mod sessions;

use sessions::{Count, Probe, start};

use std::sync::Arc;
use std::time::Duration;

use plan_agents::bus::{Message, Name};
use plan_agents::schedule::Schedule;
use plan_agents::session::{
    AgentEvent, AgentLimits, Agents, MAX_NAME, SessionError, Sleep, State, TaskSpec,
};
use plan_runtime::prelude::*;
use plan_state::store::InMemory;
use serde_json::json;

/// Longest `Display` or `Debug` an error about a huge name may have: its sentence, and 64
/// bytes of the name.
const SHORT: usize = 400;

/// Asserts that `error` tells of a name 500,000 bytes long, and is short however shown.
fn short(error: &SessionError) {
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    assert!(shown.len() < SHORT, "{} bytes: {shown:.500}", shown.len());
    assert!(debug.len() < SHORT, "{} bytes: {debug:.500}", debug.len());
    assert!(shown.contains("… (500000 bytes)"), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn one_caller_cannot_create_more_agents_than_the_limit() {
    let probe = Probe::new();
    // The default limits: the one connection created 20,000 agents.
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    let mut refused = None;
    for i in 0..20_000 {
        if let Err(e) = agents.create(&format!("a{i}"), "worker", None).await {
            refused = Some((i, e));
            break;
        }
    }
    let (at, error) = refused.expect("20,000 agents were created");
    assert_eq!(at, 10_000);
    assert!(
        matches!(error, SessionError::TooManyAgents { limit: 10_000, .. }),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains("`a10000`")
            && shown.contains("limit of 10000")
            && shown.contains("session::AgentLimits::agents"),
        "{shown}"
    );
    assert_eq!(agents.snapshot().await.unwrap().agents.len(), 10_000);
    // A refused create takes no place: one stopped agent still counts, so still no room.
    agents.stop("a0").await.unwrap();
    assert!(agents.create("late", "worker", None).await.is_err());
}

async fn turn(turn: plan_agents::session::Turn<Count>) -> plan_agents::session::Turn<Count> {
    turn
}

#[tokio::test(start_paused = true)]
async fn a_kind_holds_no_more_agents_than_its_limit_and_the_others_are_not_held_back() {
    let agents = Agents::builder(Arc::new(InMemory::new()))
        .kind("crawler", plan! { turn })
        .kind("chat", plan! { turn })
        .kind_limit("crawler", 2)
        .limits(AgentLimits {
            agents: 4,
            ..AgentLimits::default()
        })
        .start()
        .await
        .unwrap();
    for name in ["c1", "c2"] {
        agents.create(name, "crawler", None).await.unwrap();
    }
    let error = agents.create("c3", "crawler", None).await.unwrap_err();
    assert!(
        matches!(&error, SessionError::KindFull { kind, limit: 2, .. } if kind == "crawler"),
        "{error:?}"
    );
    assert!(error.to_string().contains("Builder::kind_limit"), "{error}");
    // The refusal left the counts as they were: two more of another kind, up to the total.
    agents.create("h1", "chat", None).await.unwrap();
    agents.create("h2", "chat", None).await.unwrap();
    let error = agents.create("h3", "chat", None).await.unwrap_err();
    assert!(matches!(
        error,
        SessionError::TooManyAgents { limit: 4, .. }
    ));
    // A create that fails for another reason takes no place either.
    assert!(matches!(
        agents.create("c1", "chat", None).await,
        Err(SessionError::Exists(_))
    ));

    // A kind's limit for a kind that is not registered is a mistake, told at start.
    let typo = Agents::builder(Arc::new(InMemory::new()))
        .kind("crawler", plan! { turn })
        .kind_limit("crawlr", 2)
        .start()
        .await;
    assert!(matches!(typo, Err(SessionError::NoKind { .. })));
    for zero in [
        AgentLimits {
            agents: 0,
            ..AgentLimits::default()
        },
        AgentLimits {
            schedules: 0,
            ..AgentLimits::default()
        },
    ] {
        let refused = Agents::builder(Arc::new(InMemory::new()))
            .kind("crawler", plan! { turn })
            .limits(zero)
            .start()
            .await;
        assert!(matches!(refused, Err(SessionError::BadLimits(_))));
    }
}

#[tokio::test(start_paused = true)]
async fn agents_past_a_limit_lowered_since_are_all_restored_and_no_new_one_is_created() {
    let store = Arc::new(InMemory::new());
    let probe = Probe::new();
    let first = start(store.clone(), &probe, AgentLimits::default()).await;
    for name in ["a", "b", "c"] {
        first.create(name, "worker", None).await.unwrap();
    }
    first.shutdown().await;
    let lowered = AgentLimits {
        agents: 2,
        ..AgentLimits::default()
    };
    let second = start(store, &probe, lowered).await;
    let names: Vec<String> = second
        .snapshot()
        .await
        .unwrap()
        .agents
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    // They work as before.
    second.schedule("c", TaskSpec::new("work")).await.unwrap();
    assert!(matches!(
        second.create("d", "worker", None).await,
        Err(SessionError::TooManyAgents { limit: 2, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_schedule_more_often_than_once_a_second_is_refused_and_one_a_second_runs() {
    let probe = Probe::new();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    // The issue's `every` with a 1 ms period ran 2,567 tasks in 5 s.
    let every_ms = Schedule::every(Duration::from_millis(1)).unwrap();
    let error = agents
        .every("ada", every_ms, TaskSpec::new("work"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SessionError::TooFrequent { gap, min, .. }
            if gap == Duration::from_millis(1) && min == Duration::from_secs(1)),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains("every 1 ms") && shown.contains("session::AgentLimits::min_period"),
        "{shown}"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(agents.status("ada").await.unwrap().done, 0);

    let every_second = Schedule::every(Duration::from_secs(1)).unwrap();
    agents
        .every("ada", every_second, TaskSpec::new("work"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    assert_eq!(agents.status("ada").await.unwrap().done, 5);
}

#[tokio::test(start_paused = true)]
async fn a_cron_pattern_is_refused_when_two_of_its_times_are_closer_than_the_limit() {
    let probe = Probe::new();
    let every_second = || Schedule::cron("* * * * * *").unwrap();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    agents.create("ada", "worker", None).await.unwrap();
    assert!(
        agents
            .every("ada", every_second(), TaskSpec::new("work"))
            .await
            .unwrap()
            .is_some()
    );

    let two_seconds = AgentLimits {
        min_period: Duration::from_secs(2),
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(InMemory::new()), &probe, two_seconds).await;
    agents.create("bob", "worker", None).await.unwrap();
    let gap_of = |error: SessionError| match error {
        SessionError::TooFrequent { gap, .. } => gap,
        other => panic!("{other:?}"),
    };
    let error = agents
        .every("bob", every_second(), TaskSpec::new("work"))
        .await
        .unwrap_err();
    assert_eq!(gap_of(error), Duration::from_secs(1));
    // Once a day, but twice in a row at midnight: the gap that counts is the shortest.
    let bursts = Schedule::cron("0,1 0 0 * * *").unwrap();
    let error = agents
        .every("bob", bursts, TaskSpec::new("work"))
        .await
        .unwrap_err();
    assert_eq!(gap_of(error), Duration::from_secs(1));
    // Every five seconds is under the limit.
    let every_five = Schedule::cron("*/5 * * * * *").unwrap();
    agents
        .every("bob", every_five, TaskSpec::new("work"))
        .await
        .unwrap();
    // Once in four years: a gap far over the limit.
    let leap_days = Schedule::cron("0 0 0 29 2 *").unwrap();
    agents
        .every("bob", leap_days, TaskSpec::new("work"))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_agent_has_no_more_schedules_than_the_limit() {
    let probe = Probe::new();
    let limits = AgentLimits {
        schedules: 2,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(InMemory::new()), &probe, limits).await;
    agents.create("ada", "worker", None).await.unwrap();
    let hourly = || Schedule::every(Duration::from_secs(3_600)).unwrap();
    for _ in 0..2 {
        agents
            .every("ada", hourly(), TaskSpec::new("work"))
            .await
            .unwrap();
    }
    let error = agents
        .every("ada", hourly(), TaskSpec::new("work"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SessionError::TooManySchedules { limit: 2, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("session::AgentLimits::schedules")
    );
    assert_eq!(agents.status("ada").await.unwrap().schedules.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn every_way_of_queueing_stops_at_the_queue_limit() {
    let probe = Probe::new();
    let limits = AgentLimits {
        queue: 2,
        ..AgentLimits::default()
    };
    let agents = start(Arc::new(InMemory::new()), &probe, limits).await;
    let mut events = agents.events();
    agents.create("ada", "worker", None).await.unwrap();
    // Asleep, it runs nothing: what comes stays queued.
    agents.sleep("ada", Sleep::indefinitely()).await.unwrap();
    agents.schedule("ada", TaskSpec::new("work")).await.unwrap();
    agents
        .mail("ada", Message::json(&json!({})).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        agents.schedule("ada", TaskSpec::new("work")).await,
        Err(SessionError::QueueFull { queue: 2, .. })
    ));
    assert!(matches!(
        agents.mail("ada", Message::json(&json!({})).unwrap()).await,
        Err(SessionError::QueueFull { queue: 2, .. })
    ));
    let every_second = Schedule::every(Duration::from_secs(1)).unwrap();
    agents
        .every("ada", every_second, TaskSpec::new("tick"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    // The schedule came due three times and found the queue full each time: it woke the
    // agent for none of them.
    let status = agents.status("ada").await.unwrap();
    assert_eq!((status.queued, status.state), (2, State::Sleeping));
    let mut full = 0;
    while let Ok(event) = events.try_recv() {
        if let AgentEvent::Error { error, .. } = event {
            assert!(error.contains("has 2 tasks queued, its limit"), "{error}");
            full += 1;
        }
    }
    assert_eq!(full, 3);
}

#[tokio::test(start_paused = true)]
async fn a_500000_character_name_is_refused_with_a_short_error_wherever_it_is_given() {
    let probe = Probe::new();
    let agents = start(Arc::new(InMemory::new()), &probe, AgentLimits::default()).await;
    let mut events = agents.events();
    agents.create("ada", "worker", None).await.unwrap();
    let huge = "a".repeat(500_000);

    // An agent's name, a kind's, and an agent looked up by name.
    short(&agents.create(&huge, "worker", None).await.unwrap_err());
    short(&agents.create("bob", &huge, None).await.unwrap_err());
    short(&agents.status(&huge).await.unwrap_err());
    short(
        &agents
            .mail(&huge, Message::new("not json"))
            .await
            .unwrap_err(),
    );
    // A task's name and an event's.
    let error = agents
        .schedule("ada", TaskSpec::new(huge.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SessionError::NameTooLong {
                what: "task name",
                limit: MAX_NAME,
                ..
            }
        ),
        "{error:?}"
    );
    short(&error);
    let hourly = Schedule::every(Duration::from_secs(3_600)).unwrap();
    short(
        &agents
            .every("ada", hourly, TaskSpec::new(huge.clone()))
            .await
            .unwrap_err(),
    );
    let error = agents
        .sleep("ada", Sleep::indefinitely().or_event(huge.clone()))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        SessionError::NameTooLong {
            what: "event name",
            ..
        }
    ));
    short(&error);
    // A state whose error quotes it: the reason is cut short too.
    let error = agents
        .create("bob", "worker", Some(json!({ "n": huge })))
        .await
        .unwrap_err();
    assert!(
        error.to_string().len() < 1_000,
        "{:.2000}",
        error.to_string()
    );
    // A cron pattern, and a bus name.
    let error = SessionError::from(Schedule::cron(&huge).unwrap_err());
    short(&error);
    short(&SessionError::from(Name::new(&huge).unwrap_err()));

    // Names at the limit are taken, and nothing above echoed a huge name as an event.
    let longest = "t".repeat(MAX_NAME);
    agents
        .schedule("ada", TaskSpec::new(longest.clone()))
        .await
        .unwrap();
    agents
        .sleep("ada", Sleep::indefinitely().or_event(longest.clone()))
        .await
        .unwrap();
    assert_eq!(agents.signal(&longest).await.unwrap(), 1);
    while let Ok(event) = events.try_recv() {
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.len() < 1_000, "{:.500}", json);
    }
}
