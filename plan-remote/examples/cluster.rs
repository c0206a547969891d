//! A durable fan-out over workers: `N` items, each run by the `item` step on whichever
//! worker takes it (start some with the `worker` example), journaled in JetStream
//! key-value, so that the run killed and rerun with the same id — here or in another
//! process — continues where it was, and no item that finished runs again.
//!
//! ```text
//! cargo run --example worker -- --nats nats://127.0.0.1:4222 --name w1 &
//! cargo run --example worker -- --nats nats://127.0.0.1:4222 --name w2 &
//! cargo run --example cluster -- --nats nats://127.0.0.1:4222 --run-id demo --items 20
//! cargo run --example cluster -- --run-id demo --items 20 --local   # one process, no NATS
//! ```
//!
//! It prints `result: …` (the same line for the same `--items`, wherever the items ran) and
//! `by worker: NAME=COUNT …`.

#[path = "shared/items.rs"]
mod items;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use items::Item;
use plan_remote::nats::{Nats, NatsConfig, NatsStore, NatsStoreConfig};
use plan_remote::{Local, Registry, Remote, RemoteError, RemoteStep};
use plan_runtime::prelude::*;
use plan_state::runs::{RunStatus, Runs};
use plan_state::store::{InMemory, Store};

const USAGE: &str = "usage: cluster --nats URL --run-id ID --items N [--replicas R] [--local]";

struct Args {
    nats: Option<String>,
    run_id: String,
    items: u32,
    replicas: usize,
    local: bool,
}

fn args() -> Result<Args, String> {
    let (mut nats, mut run_id, mut items, mut replicas, mut local) = (None, None, None, 1, false);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or(format!("`{flag}` needs a value\n{USAGE}"))
        };
        let number = |v: String| {
            v.parse::<u32>()
                .map_err(|_| format!("`{flag}` takes a number\n{USAGE}"))
        };
        match flag.as_str() {
            "--nats" => nats = Some(value()?),
            "--run-id" => run_id = Some(value()?),
            "--items" => items = Some(number(value()?)?),
            "--replicas" => replicas = number(value()?)? as usize,
            "--local" => local = true,
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    let missing = |what: &str| format!("`{what}` is required\n{USAGE}");
    if nats.is_none() && !local {
        return Err(missing("--nats"));
    }
    Ok(Args {
        nats,
        run_id: run_id.ok_or_else(|| missing("--run-id"))?,
        items: items.ok_or_else(|| missing("--items"))?,
        replicas,
        local,
    })
}

/// Runs the fan-out as durable run `id`, journaled in `store`; its items.
async fn fan_out<S: Store + 'static>(
    store: S,
    item: RemoteStep<u32, Item>,
    id: &str,
    items: u32,
) -> Result<Vec<Item>, String> {
    let plan = plan! {
        #![durable]
        each(all) { #[name = "item"] (item.clone()) }
    };
    let input: Vec<u32> = (1..=items).collect();
    match Runs::new(store).run(&plan, id, input).await {
        Ok(RunStatus::Done(items)) => Ok(items),
        Ok(RunStatus::Waiting(question)) => Err(format!("waiting on {question:?}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn run(args: Args) -> Result<Vec<Item>, String> {
    if args.local {
        let step = items::ItemStep {
            worker: "local".to_owned(),
            effects: None,
            pause: Duration::from_millis(200),
            announce: false,
        };
        let remote = Remote::new(Local::new(Registry::new().step("item", step)));
        let item = remote.step("item").await.map_err(|e| e.to_string())?;
        return fan_out(InMemory::new(), item, &args.run_id, args.items).await;
    }
    let url = args.nats.unwrap_or_default();
    let config = NatsConfig {
        queue: "items".to_owned(),
        replicas: args.replicas,
        redeliver_after: Duration::from_secs(2),
        ..NatsConfig::default()
    };
    let nats = Nats::connect(&url, config)
        .await
        .map_err(|e| e.to_string())?;
    let item = served_item(&Remote::new(nats)).await?;
    let store = open_store(&url, args.replicas).await?;
    fan_out(store, item, &args.run_id, args.items).await
}

/// The `item` step, once a worker serves it (waiting up to 60 s for one to start).
async fn served_item(remote: &Remote) -> Result<RemoteStep<u32, Item>, String> {
    let mut told = false;
    for _ in 0..600 {
        match remote.step("item").await {
            Err(RemoteError::NotServed { .. }) => {
                if !told {
                    eprintln!("cluster: waiting for a worker that serves `item`");
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            step => return step.map_err(|e| e.to_string()),
        }
    }
    Err("no worker serves `item`: start one with `cargo run --example worker`".to_owned())
}

/// The journal's store: JetStream key-value on the same servers, with `replicas` replicas.
async fn open_store(url: &str, replicas: usize) -> Result<NatsStore, String> {
    // Time enough to wait out the election of a stream's leader after a node is lost.
    let config = NatsStoreConfig {
        bucket: "plan-cluster".to_owned(),
        replicas,
        timeout: Duration::from_secs(30),
    };
    NatsStore::connect_with(url, config)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let items = match args() {
        Ok(args) => run(args).await,
        Err(usage) => Err(usage),
    };
    match items {
        Ok(items) => {
            let total: u64 = items.iter().map(|item| item.square).sum();
            println!("result: {} items, sum of squares {total}", items.len());
            let mut by_worker = BTreeMap::<&str, usize>::new();
            for item in &items {
                *by_worker.entry(&item.worker).or_default() += 1;
            }
            let counts: Vec<String> = by_worker.iter().map(|(w, n)| format!("{w}={n}")).collect();
            println!("by worker: {}", counts.join(" "));
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("cluster: {}", message.lines().next().unwrap_or_default());
            ExitCode::FAILURE
        }
    }
}
