//! A dependency DAG as a plan of bindings: a release build in which every job starts the
//! moment the jobs it needs are done.
//!
//! ```text
//! checkout ──┬── compile_core ── test_core ──┬── link ──┬── publish_docs ───┐
//!            ├── fetch_assets ── optimize ───┘          └──┐               ├── done
//!            └── compile_ui ───────────────────────────────┴── package ────┘
//! ```
//!
//! `link` needs the core and the assets but not the slow UI build, so it runs while the UI
//! still compiles, and so does `publish_docs`. A layered executor — run every job of one
//! level, wait for all of them, go on — would hold `link` back until `compile_ui` is done.
//!
//! Run with `cargo run -p plan-runtime --example dag`; it prints the plan's graph (Mermaid), the run's
//! timeline, and what the same graph would have taken level by level (computed from the jobs'
//! measured times). The jobs stand in for real work with sleeps.

use std::collections::HashMap;
use std::time::Duration;

use plan_runtime::prelude::*;
use plan_runtime::report::RunReport;
use plan_runtime::{NodeKind, PlanGraph};

/// What a job hands to the jobs that depend on it: the names of the artifacts so far.
type Artifacts = Vec<&'static str>;

async fn job(mut done: Artifacts, name: &'static str, ms: u64) -> Artifacts {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    done.push(name);
    done
}

async fn checkout(_: ()) -> Artifacts {
    job(Vec::new(), "sources", 80).await
}
async fn compile_core(a: Artifacts) -> Artifacts {
    job(a, "core.o", 300).await
}
async fn test_core(a: Artifacts) -> Artifacts {
    job(a, "core tested", 150).await
}
async fn compile_ui(a: Artifacts) -> Artifacts {
    job(a, "ui.o", 700).await
}
async fn fetch_assets(a: Artifacts) -> Artifacts {
    job(a, "assets", 120).await
}
async fn optimize(a: Artifacts) -> Artifacts {
    job(a, "assets.min", 200).await
}

/// Merges the artifacts of several jobs.
fn merge(parts: &[Artifacts]) -> Artifacts {
    let mut all: Artifacts = parts.concat();
    all.sort_unstable();
    all.dedup();
    all
}

async fn link((core, assets): (Artifacts, Artifacts)) -> Artifacts {
    job(merge(&[core, assets]), "app", 100).await
}
async fn publish_docs(a: Artifacts) -> Artifacts {
    job(a, "docs", 90).await
}
async fn package((app, ui): (Artifacts, Artifacts)) -> Artifacts {
    job(merge(&[app, ui]), "app.tar.gz", 120).await
}

#[tokio::main]
async fn main() -> Result<(), PlanError> {
    let release = plan! {
        #![name = "release"]
        let src    = checkout;
        let core   = src >> compile_core >> test_core;
        let ui     = src >> compile_ui;
        let assets = src >> fetch_assets >> optimize;
        let app    = (core, assets) >> link;
        let docs   = app >> publish_docs;
        let pkg    = (app, ui) >> package;
        (pkg, docs)
    };
    let graph = release.graph();
    println!("{}", graph.to_mermaid());

    let (shipped, report) = release.run(()).reported().await;
    let (pkg, docs) = shipped?;
    println!(
        "package: {}\ndocs:    {}\n",
        pkg.join(", "),
        docs.join(", ")
    );
    println!("{report}");

    let levels = level_by_level(&graph, &report);
    let ms = |d: Duration| d.as_micros().div_ceil(1000);
    println!(
        "as bindings: {} ms; level by level: {} ms; one job at a time: {} ms",
        ms(report.wall),
        ms(levels),
        ms(report.busy),
    );
    Ok(())
}

/// How long the graph would take run level by level: each binding's level is one more than
/// its sources' deepest, a level starts when every binding of the level before has finished,
/// and each binding takes the time it took in `report`.
fn level_by_level(graph: &PlanGraph, report: &RunReport) -> Duration {
    // The binding each graph node belongs to: the nearest `let` node enclosing it.
    let binding_of = |mut id: usize| loop {
        let node = &graph.nodes[id];
        if node.kind == NodeKind::Let {
            return Some(id);
        }
        id = node.parent?;
    };
    // Edges into a `let` node come from the bindings it reads.
    let mut level: HashMap<usize, usize> = HashMap::new();
    for node in graph.nodes.iter().filter(|n| n.kind == NodeKind::Let) {
        let deepest_source = graph
            .edges
            .iter()
            .filter(|edge| edge.to == node.id)
            .filter_map(|edge| binding_of(edge.from))
            .map(|source| level[&source] + 1)
            .max();
        level.insert(node.id, deepest_source.unwrap_or(0));
    }
    let took = |name: &str| {
        report
            .nodes
            .iter()
            .find(|n| n.kind == NodeKind::Let && n.name == name)
            .and_then(|n| n.duration())
            .unwrap_or_default()
    };
    let depth = level.values().copied().max().map_or(0, |d| d + 1);
    (0..depth)
        .map(|l| {
            level
                .iter()
                .filter(|&(_, &at)| at == l)
                .map(|(&id, _)| took(graph.nodes[id].name))
                .max()
                .unwrap_or_default()
        })
        .sum()
}
