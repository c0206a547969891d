//! Memory per sleeping agent: `sleepers <variant> <n>` puts `n` agents to sleep, each with a
//! task queued and a timer an hour away, in a fresh process, and prints one JSON line with
//! the process's resident set size (`VmRSS`) before and after, and the difference per agent.
//!
//! `cargo bench -p plan-agents --bench sleepers -- agents 10000`; variants:
//! * `agents`: [`Agents`] over the in-memory store, whose records (one JSON value each) are
//!   counted too;
//! * `agents_sqlite`: the same over an SQLite file, so the records are on disk;
//! * `tasks`: the baseline, one tokio task per agent asleep in `tokio::time::sleep`, holding
//!   a `Vec` of one queued `serde_json::Value`.
//!
//! `bench/run` runs each in its own process.

use std::sync::Arc;
use std::time::Duration;

use plan_agents::session::{AgentLimits, Agents, Sleep, TaskSpec, Turn};
use plan_runtime::prelude::*;
use plan_state::store::{InMemory, Sqlite, Store};

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

async fn wake(turn: Turn<u32>) -> Turn<u32> {
    turn
}

async fn agents<S: Store + 'static>(store: S, n: usize) -> Agents<S> {
    let agents = Agents::builder(Arc::new(store))
        .kind("sleeper", plan! { wake })
        // As many as asked for, past the default limit of 10,000.
        .limits(AgentLimits {
            agents: n.max(1),
            ..AgentLimits::default()
        })
        .start()
        .await
        .unwrap();
    for i in 0..n {
        let name = format!("agent-{i}");
        agents.create(&name, "sleeper", None).await.unwrap();
        agents
            .sleep(&name, Sleep::for_(Duration::from_secs(3_600)))
            .await
            .unwrap();
        agents.schedule(&name, TaskSpec::new("wake")).await.unwrap();
    }
    agents
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (variant, n) = match args.as_slice() {
        [variant, n] => (
            variant.clone(),
            n.parse::<usize>().expect("a number of agents"),
        ),
        _ => {
            eprintln!("usage: sleepers agents|agents_sqlite|tasks N");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("plan-agents-sleepers-{}", std::process::id()));
    let before = status_kib("VmRSS");
    rt.block_on(async {
        let hold: Box<dyn std::any::Any> = match variant.as_str() {
            "agents" => Box::new(agents(InMemory::new(), n).await),
            "agents_sqlite" => {
                std::fs::create_dir_all(&dir).unwrap();
                // Counted with the agents: SQLite's page cache, at most about 2 MiB.
                let store = Sqlite::open(dir.join("agents.db")).await.unwrap();
                Box::new(agents(store, n).await)
            }
            "tasks" => {
                let tasks: Vec<_> = (0..n)
                    .map(|i| {
                        let queued = vec![serde_json::json!({ "name": "wake", "id": i })];
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_secs(3_600)).await;
                            drop(queued);
                        })
                    })
                    .collect();
                Box::new(tasks)
            }
            other => panic!("unknown variant {other}"),
        };
        // Let every spawned timer task reach its sleep.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let after = status_kib("VmRSS");
        let per = (after.saturating_sub(before) * 1024) as f64 / n as f64;
        println!(
            "{{\"variant\": \"{variant}\", \"n\": {n}, \"rss_before_kib\": {before}, \"rss_after_kib\": {after}, \"bytes_per_agent\": {per:.0}}}"
        );
        drop(hold);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
