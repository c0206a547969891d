//! Peak memory of a fan-out: `memory <variant> <n>` runs one fan-out of `n` branches that
//! each sleep 10 ms, in a fresh process, and prints one JSON line with the process's resident
//! set size before the fan-out (`VmRSS`) and its peak (`VmHWM`: the kernel's high-water mark,
//! the figure `/usr/bin/time -v` reports as "Maximum resident set size").
//!
//! `cargo bench -p plan-runtime --bench memory -- plan_each 10000`; variants: `plan_each`, `futures_unordered`,
//! `join_all`, `join_set`. `bench/run` runs each in its own process.

use plan_runtime::prelude::*;

mod common;
use common::nap;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

async fn fan_out(variant: &str, items: Vec<u64>) -> Vec<u64> {
    match variant {
        "plan_each" => {
            let plan = plan! { each(all) { nap } };
            plan.run(items).await.unwrap()
        }
        "futures_unordered" => common::futures_unordered(items).await,
        "join_all" => common::join_all(items).await,
        "join_set" => common::join_set(items).await,
        other => panic!("unknown variant {other}"),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [variant, n] = args.as_slice() else {
        eprintln!("usage: memory <plan_each|futures_unordered|join_all|join_set> <n>");
        std::process::exit(2);
    };
    let n: u64 = n.parse().expect("n is a number");
    let rt = common::multi_thread();
    // Warm the runtime (timer wheel, worker threads) so the baseline includes it.
    rt.block_on(nap(0));
    let base = status_kib("VmRSS");
    let out = rt.block_on(fan_out(variant, (0..n).collect()));
    let peak = status_kib("VmHWM");
    assert!(
        out.iter().copied().eq(0..n),
        "{variant}: results in input order"
    );
    println!(
        r#"{{"variant": "{variant}", "n": {n}, "base_rss_kib": {base}, "peak_rss_kib": {peak}}}"#
    );
}
