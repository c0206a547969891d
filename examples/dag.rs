//! A dependency DAG as a plan: a release build whose independent jobs run at the same time.
//!
//! ```text
//! checkout ──┬── compile_core ── test_core ──┬── link ──┬── package
//!            ├── compile_ui ─────────────────┤          └── publish_docs
//!            └── fetch_assets ── optimize ───┘
//! ```
//!
//! Each chain inside the `par` waits only for what it depends on; `link` waits for all three.
//! Run with `cargo run --example dag`; it prints the plan's graph (Mermaid) and the run's
//! timeline. The jobs stand in for real work with sleeps.

use plan_runtime::prelude::*;

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
    job(a, "ui.o", 350).await
}
async fn fetch_assets(a: Artifacts) -> Artifacts {
    job(a, "assets", 120).await
}
async fn optimize(a: Artifacts) -> Artifacts {
    job(a, "assets.min", 200).await
}

/// Joins the three chains' artifacts.
async fn link((core, ui, assets): (Artifacts, Artifacts, Artifacts)) -> Artifacts {
    let mut all: Artifacts = [core, ui, assets].concat();
    all.sort_unstable();
    all.dedup();
    job(all, "app", 100).await
}
async fn package(a: Artifacts) -> Artifacts {
    job(a, "app.tar.gz", 120).await
}
async fn publish_docs(a: Artifacts) -> Artifacts {
    job(a, "docs", 90).await
}

#[tokio::main]
async fn main() -> Result<(), PlanError> {
    let release = plan! {
        #![name = "release"]
        checkout
        >> #[name = "build"] par(all) {
            compile_core >> test_core,
            compile_ui,
            fetch_assets >> optimize,
        }
        >> link
        >> #[name = "ship"] par(all) { package, publish_docs }
    };
    println!("{}", release.graph().to_mermaid());

    let (shipped, report) = release.run_reported(()).await;
    let (package, docs) = shipped?;
    println!(
        "package: {}\ndocs:    {}\n",
        package.join(", "),
        docs.join(", ")
    );
    println!("{report}");

    // Run one after another, the jobs would take their summed time.
    println!(
        "one job at a time: {} ms; as a plan: {} ms",
        report.busy.as_millis(),
        report.wall.as_millis()
    );
    Ok(())
}
