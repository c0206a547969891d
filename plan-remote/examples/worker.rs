//! A worker process: serves the `item` step of the `cluster` example from NATS JetStream
//! until it is killed, one item at a time (`--concurrency N` for more). Each item takes
//! about 200 ms (`--item-ms`), then appends the line `ITEM NAME` to the effects file, if
//! given.
//!
//! ```text
//! cargo run --example worker -- --nats nats://127.0.0.1:4222 --name w1 --effects /tmp/effects
//! ```
//!
//! It prints `worker NAME: serving item on QUEUE` once it is registered and pulling jobs,
//! and `took item N` as it starts each item.

#[path = "shared/items.rs"]
mod items;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use plan_remote::Registry;
use plan_remote::nats::{Nats, NatsConfig, Worker};

const USAGE: &str = "usage: worker --nats URL [--name NAME] [--effects FILE] [--replicas R] [--item-ms MS] [--concurrency N]";

struct Args {
    nats: String,
    name: String,
    effects: Option<PathBuf>,
    replicas: usize,
    item: Duration,
    concurrency: usize,
}

fn args() -> Result<Args, String> {
    let mut parsed = Args {
        nats: String::new(),
        name: format!("worker-{}", std::process::id()),
        effects: None,
        replicas: 1,
        item: Duration::from_millis(200),
        concurrency: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or(format!("`{flag}` needs a value\n{USAGE}"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("`{flag}` takes a number\n{USAGE}"))
        };
        match flag.as_str() {
            "--nats" => parsed.nats = value()?,
            "--name" => parsed.name = value()?,
            "--effects" => parsed.effects = Some(PathBuf::from(value()?)),
            "--replicas" => parsed.replicas = number(value()?)? as usize,
            "--item-ms" => parsed.item = Duration::from_millis(number(value()?)?),
            "--concurrency" => parsed.concurrency = number(value()?)? as usize,
            _ => return Err(format!("unknown argument `{flag}`\n{USAGE}")),
        }
    }
    if parsed.nats.is_empty() {
        return Err(format!("`--nats` is required\n{USAGE}"));
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("worker: {usage}");
            return ExitCode::FAILURE;
        }
    };
    let config = NatsConfig {
        queue: "items".to_owned(),
        replicas: args.replicas,
        redeliver_after: Duration::from_secs(2),
        ..NatsConfig::default()
    };
    let nats = match Nats::connect(&args.nats, config).await {
        Ok(nats) => nats,
        Err(e) => {
            eprintln!("worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let step = items::ItemStep {
        worker: args.name.clone(),
        effects: args.effects,
        pause: args.item,
        announce: true,
    };
    let worker = Worker::new(&nats, &args.name, Registry::new().step("item", step))
        .concurrency(args.concurrency);
    println!(
        "worker {}: serving item on {}",
        args.name,
        nats.config().queue
    );
    match worker.serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker {}: {e}", args.name);
            ExitCode::FAILURE
        }
    }
}
