//! A layered writing pipeline — `intro >> par(all) { body, conclusion } >> evaluate` — and its
//! run report: the timeline shows the body and the conclusion written at the same time, and
//! the figures say how much of the run they overlapped.
//!
//! Run with `cargo run -p plan-runtime --example writing`. The steps stand in for model calls with sleeps.

use plan_runtime::prelude::*;
use plan_runtime::report::RunReport;

#[derive(Clone, Debug)]
struct Outline {
    topic: String,
    intro: String,
}

#[derive(Debug)]
struct Essay {
    text: String,
    grade: f64,
}

async fn think(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

async fn intro(topic: String) -> Outline {
    think(120).await;
    Outline {
        intro: format!("Why {topic} matters."),
        topic,
    }
}

async fn body(outline: Outline) -> String {
    think(400).await;
    format!(
        "{} In depth: how {} works, step by step.",
        outline.intro, outline.topic
    )
}

async fn conclusion(outline: Outline) -> String {
    think(250).await;
    format!("In short, {} pays off.", outline.topic)
}

async fn evaluate((body, conclusion): (String, String)) -> Essay {
    think(100).await;
    let text = format!("{body}\n\n{conclusion}");
    Essay {
        grade: (text.split_whitespace().count() as f64 / 20.0).min(1.0),
        text,
    }
}

/// How long two named nodes ran at the same time.
fn overlap(report: &RunReport, a: &str, b: &str) -> Duration {
    let span = |name: &str| {
        let node = report.find(name).expect("the node ran");
        (node.start, node.end.expect("the node ended"))
    };
    let ((a_start, a_end), (b_start, b_end)) = (span(a), span(b));
    a_end.min(b_end).saturating_sub(a_start.max(b_start))
}

#[tokio::main]
async fn main() -> Result<(), PlanError> {
    let writer = plan! {
        #![name = "writer"]
        intro >> par(all) { body, conclusion } >> evaluate
    };

    let (essay, report) = writer.run("typed plans".to_owned()).reported().await;
    let essay = essay?;
    println!("{}\n(grade {:.2})\n", essay.text, essay.grade);
    println!("{report}");

    let together = overlap(&report, "body", "conclusion");
    let share = together.as_secs_f64() / report.wall.as_secs_f64();
    println!(
        "body and conclusion overlapped for {together:.0?}: {:.0}% of the run",
        share * 100.0
    );
    assert!(
        share > 0.3,
        "the two layers should overlap for more than 30% of the run"
    );
    Ok(())
}
