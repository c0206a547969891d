//! A live progress display built on the run's event stream: a bar of step runs finished out of
//! the plan's steps, the steps running now, and a line for every retry, failure, deadline and
//! cancellation as it happens.
//!
//! The bar's length is known before the run starts: one slot per step in the plan's graph.
//! A step inside a `loop` or an `each` runs more than once, and how often is only known as it
//! happens, so the bar grows by one slot each time a step starts again (another pass or item):
//! it never shows more work than it knows of, nor fills before the last step run finishes.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use plan_runtime::report::{EventKind, Events, Outcome};
use plan_runtime::{NodeKind, PlanGraph};

fn is_step(kind: NodeKind) -> bool {
    matches!(kind, NodeKind::Step | NodeKind::Blocking)
}

/// The bar, before the run: the console prints above it from the start.
pub fn bar() -> ProgressBar {
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed:>3} [{bar:32}] {pos}/{len} step runs  {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    )
}

/// Shows the progress of a run of the plan whose graph is `graph` on `bar` until its event
/// stream ends.
pub async fn show(mut events: Events, graph: PlanGraph, bar: ProgressBar) {
    let steps = graph.nodes.iter().filter(|n| is_step(n.kind)).count();
    bar.set_length(steps as u64);
    bar.enable_steady_tick(Duration::from_millis(80));
    // Paths of the steps that have started: the graph counted each once.
    let mut started: HashSet<Cow<'static, str>> = HashSet::new();
    let mut running: Vec<(usize, &'static str)> = Vec::new();
    while let Some(event) = events.next().await {
        let step = is_step(event.node_kind);
        // `suspend`: these lines print even when stderr is not a terminal and the bar hides.
        match event.kind {
            EventKind::Started if step => {
                if !started.insert(event.path.clone()) {
                    bar.inc_length(1);
                }
                running.push((event.id, event.name));
            }
            EventKind::Started => {}
            EventKind::Retrying { attempt, error } => bar.suspend(|| {
                println!(
                    "  ↻ {} attempt {attempt} failed, retrying: {error}",
                    event.label
                )
            }),
            EventKind::Finished { outcome } => {
                if step {
                    bar.inc(1);
                    running.retain(|&(id, _)| id != event.id);
                }
                let mark = match outcome {
                    Outcome::Failed { .. } => Some('✗'),
                    Outcome::TimedOut { .. } => Some('⏱'),
                    Outcome::Cancelled => Some('⊘'),
                    _ => None,
                };
                // Steps only: the groups around a failed step would repeat its line.
                if let (Some(mark), true) = (mark, step) {
                    bar.suspend(|| println!("  {mark} {} {outcome}", event.label));
                }
            }
            _ => {}
        }
        let names: Vec<&str> = running.iter().map(|&(_, name)| name).collect();
        bar.set_message(names.join(", "));
    }
    bar.finish_and_clear();
}
