//! A reactive loop: tickets arrive in a bus mailbox, a plan triages each one, three at a time,
//! and each outcome is written to SQLite and published before its ticket is acked.
//!
//! ```text
//! cargo run -p plan-agents --example triage
//! ```
//!
//! Ten tickets are sent, one of them twice (a client that retried) and one that is not a
//! ticket at all. The loop runs the plan for each distinct ticket once, records the bad one
//! as an error outcome rather than crashing or retrying it, prints every outcome as it is
//! published, and stops gracefully once all are in, with its counts. Exit code 0 when the
//! counts are the expected ones.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use plan_agents::bus::{Bus, InMemory, Message, Name, Subscription};
use plan_agents::reactive::{EventOutcome, Reactive};
use plan_runtime::prelude::*;
use plan_state::store::{Sqlite, Store};
use serde::Deserialize;

#[derive(Deserialize)]
struct Ticket {
    title: String,
    customers: u32,
}

/// Reads a ticket (a model would, in a real system: 50–150 ms).
async fn read(ticket: Ticket) -> Ticket {
    let ms = 50 + (ticket.title.len() as u64 * 7) % 100;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ticket
}

/// How urgent it is.
async fn rank(ticket: Ticket) -> String {
    let urgent = ticket.title.contains("down") || ticket.customers > 100;
    format!(
        "{}: {}",
        if urgent { "page now" } else { "next sprint" },
        ticket.title
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("triage: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("plan-triage-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(Sqlite::open(dir.join("outcomes.db")).await?);
    let bus = InMemory::new();
    let (tickets, triaged) = (Name::new("tickets")?, Name::new("triaged")?);
    let reactor = Reactive::new(Name::new("triage")?, plan! { read >> rank })
        .concurrency(3)
        .persist(store.clone())
        .publish(bus.clone(), triaged.clone());
    let mut outcomes = bus.subscribe(&triaged).await?;
    let consumer = bus.consume(&tickets).await?;

    let titles = [
        ("checkout is down", 2_000),
        ("typo on the pricing page", 3),
        ("export to CSV is slow", 40),
        ("login fails for SSO users", 300),
        ("dark mode contrast", 12),
        ("search ignores accents", 25),
        ("invoices are down for EU", 900),
        ("avatar upload rotates photos", 8),
    ];
    for (i, (title, customers)) in titles.iter().enumerate() {
        let ticket = serde_json::json!({ "title": title, "customers": customers });
        let message = Message::json(&ticket)?.with_header("id", format!("T-{i}"))?;
        bus.send(&tickets, message.clone()).await?;
        if i == 3 {
            bus.send(&tickets, message).await?; // the client retried
        }
    }
    let bad = Message::new("{\"title\": 42}").with_header("id", "T-bad")?;
    bus.send(&tickets, bad).await?;

    let stop = CancellationToken::new();
    let watching = reactor
        .watch_mailbox(consumer)
        .with_graceful_shutdown(stop.clone().cancelled_owned());
    let printing = async {
        // Ten outcomes: eight tickets, the retried one's outcome again, and the bad one.
        for _ in 0..10 {
            let outcome: EventOutcome<String> = outcomes.recv().await?.decode()?;
            match outcome.result {
                Ok(rank) => println!("{:>6}  {rank}", outcome.event),
                Err(error) => println!("{:>6}  error: {error}", outcome.event),
            }
        }
        stop.cancel();
        Ok::<(), Box<dyn std::error::Error>>(())
    };
    let (summary, printed) = tokio::join!(watching, printing);
    printed?;
    let summary = summary?;
    let kept = store.keys("reactive/triage/events/").await?.len();
    println!(
        "{} triaged, {} failed, {} duplicates; {kept} outcomes in the store",
        summary.succeeded, summary.failed, summary.duplicates
    );
    std::fs::remove_dir_all(&dir)?;
    if (summary.succeeded, summary.failed, summary.duplicates, kept) != (8, 1, 1, 9) {
        return Err("the counts are not the expected 8, 1, 1 and 9".into());
    }
    Ok(())
}
