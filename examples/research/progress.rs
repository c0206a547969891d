//! A live progress display built on the run's event stream: a bar of steps done out of steps
//! started, the steps running now, and a line for every retry, failure, deadline and
//! cancellation as it happens.

use std::time::Duration;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use plan_runtime::NodeKind;
use plan_runtime::report::{EventKind, Events, Outcome};

/// Shows the run's progress until its event stream ends.
pub async fn show(mut events: Events) {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed:>3} [{bar:32}] {pos}/{len} steps  {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(80));
    let mut running: Vec<(usize, &'static str)> = Vec::new();
    while let Some(event) = events.next().await {
        let step = matches!(event.node_kind, NodeKind::Step | NodeKind::Blocking);
        // `suspend`: these lines print even when stderr is not a terminal and the bar hides.
        match event.kind {
            EventKind::Started if step => {
                bar.inc_length(1);
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
                if let Some(mark) = mark {
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
