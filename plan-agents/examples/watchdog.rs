//! A watchdog: an agent that sleeps between health checks, wakes on its schedule or at once
//! on an alert, and escalates to the on-call when a service fails twice in a row.
//!
//! ```text
//! cargo run -p plan-agents --example watchdog
//! ```
//!
//! A service, in process, fails from its fourth second to its eighth. A monitor publishes a
//! health alert on the bus's `health-alerts` topic when it sees the failure; the alert reaches
//! the watchdog as mail of priority 9, which wakes it at once. The watchdog's record (state,
//! queue, sleep, schedule) is kept in SQLite, in a temporary directory. The example ends,
//! exit code 0, once the service has recovered and the watchdog said so, within about 10 s.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plan_agents::bus::{Bus, BusError, InMemory, Message, Name, Subscription};
use plan_agents::schedule::Schedule;
use plan_agents::session::{AgentEvent, Agents, Kind, Sleep, State, TaskSpec, Turn};
use plan_runtime::prelude::*;
use plan_state::store::Sqlite;
use serde::{Deserialize, Serialize};

/// The service watched: healthy or not.
#[derive(Default)]
struct Service {
    down: AtomicBool,
}

/// What the watchdog's plan uses: the service and the bus.
struct Watch {
    service: Arc<Service>,
    bus: InMemory,
}

/// The watchdog's state, kept in the store.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Dog {
    checks: u32,
    failures_in_a_row: u32,
    escalated: bool,
}

/// A check: failing twice in a row escalates once; healthy after an escalation announces the
/// recovery. Then the watchdog sleeps until its schedule, an alert, or urgent mail.
async fn check(mut turn: Turn<Dog>, watch: &Watch) -> Result<Turn<Dog>, BusError> {
    let dog = &mut turn.state;
    dog.checks += 1;
    let healthy = !watch.service.down.load(Ordering::SeqCst);
    dog.failures_in_a_row = if healthy {
        0
    } else {
        dog.failures_in_a_row + 1
    };
    let on_call = Name::new("on-call")?;
    if dog.failures_in_a_row >= 2 && !dog.escalated {
        dog.escalated = true;
        let page = format!(
            "the service failed {} checks in a row",
            dog.failures_in_a_row
        );
        watch.bus.publish(&on_call, Message::json(&page)?).await?;
    } else if healthy && dog.escalated {
        dog.escalated = false;
        watch
            .bus
            .publish(&on_call, Message::json(&"recovered")?)
            .await?;
    }
    turn.output = serde_json::json!({ "healthy": healthy, "task": turn.task.name });
    turn.sleep = Some(Sleep::indefinitely().or_event("health-alert").or_mail(8));
    Ok(turn)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watchdog: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("plan-watchdog-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(Sqlite::open(dir.join("agents.db")).await?);
    let bus = InMemory::new();
    let service = Arc::new(Service::default());
    let watch = Watch {
        service: service.clone(),
        bus: bus.clone(),
    };
    let agents = Agents::builder(store)
        .kind("watchdog", Kind::new(plan! { check }).ctx(watch))
        .start()
        .await?;
    let mut events = agents.events();
    let mut on_call = bus.subscribe(&Name::new("on-call")?).await?;
    let alerts = Name::new("health-alerts")?;

    agents.create("dog", "watchdog", None).await?;
    agents
        .every(
            "dog",
            Schedule::every(Duration::from_secs(2))?,
            TaskSpec::new("scheduled check"),
        )
        .await?;
    agents
        .sleep(
            "dog",
            Sleep::indefinitely().or_event("health-alert").or_mail(8),
        )
        .await?;
    // Alerts on the bus reach the watchdog as mail.
    let forwarding = tokio::spawn({
        let (agents, alerts) = (agents.clone(), bus.subscribe(&alerts).await?);
        async move { agents.forward_topic(alerts, "dog").await }
    });
    // The monitor: the service fails at 3.5 s and an alert goes out; it recovers at 7.5 s.
    tokio::spawn({
        let (bus, service) = (bus.clone(), service.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(3_500)).await;
            service.down.store(true, Ordering::SeqCst);
            let alert = Message::json(&"5xx rate over 50%").map(|m| m.with_priority(9));
            if let Ok(alert) = alert {
                let _ = bus.publish(&alerts, alert).await;
            }
            tokio::time::sleep(Duration::from_secs(4)).await;
            service.down.store(false, Ordering::SeqCst);
        }
    });

    let started = tokio::time::Instant::now();
    let at = || format!("{:>5.1} s", started.elapsed().as_secs_f64());
    let deadline = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            page = on_call.recv() => {
                let page: String = page?.decode()?;
                println!("{} on-call paged: {page}", at());
                if page == "recovered" {
                    break;
                }
            }
            event = events.recv() => match event? {
                AgentEvent::State { woken_by: Some(by), .. } => println!("{} woke by {by}", at()),
                AgentEvent::TaskDone { output, .. } => println!("{} check: {output}", at()),
                _ => {}
            },
            () = &mut deadline => return Err("the service did not recover within 30 s".into()),
        }
    }
    // The check that announced the recovery finishes, and the watchdog goes back to sleep.
    let mut dog = agents.status("dog").await?;
    while dog.state != State::Sleeping {
        tokio::time::sleep(Duration::from_millis(10)).await;
        dog = agents.status("dog").await?;
    }
    println!(
        "watchdog: {} checks, {} failed, {} again; state {}",
        dog.done,
        dog.failed,
        dog.state,
        agents.state("dog").await?
    );
    forwarding.abort();
    agents.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
