//! A first plan: parse a question, search three sources at once under a deadline, keep the
//! best two drafts, refine in a bounded loop, and publish with retries.
//!
//! Run with `cargo run -p plan-runtime --example quickstart`.

use plan_runtime::prelude::*;

#[derive(Clone, Debug)]
struct Query(String);

#[derive(Clone, Debug)]
struct Hits(Vec<String>);

#[derive(Clone, Debug, Default)]
struct Evidence(Vec<String>);

#[derive(Clone, Debug)]
struct Draft {
    text: String,
    score: f64,
}

#[derive(Clone, Debug, Default, Lens)]
struct Answer {
    body: String,
    revisions: u32,
}

fn parse_query(question: String) -> Query {
    Query(question.trim().to_lowercase())
}

async fn search_web(q: Query) -> Hits {
    tokio::time::sleep(Duration::from_millis(30)).await;
    Hits(vec![format!("web result for {}", q.0)])
}

async fn search_papers(q: Query) -> Hits {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Hits(vec![format!("paper about {}", q.0)])
}

async fn search_code(q: Query) -> Result<Hits, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(Hits(vec![format!("code mentioning {}", q.0)]))
}

fn merge_hits((a, b, c): (Hits, Hits, Hits)) -> Evidence {
    Evidence([a.0, b.0, c.0].concat())
}

async fn draft_concise(e: Evidence) -> Draft {
    Draft {
        text: format!("In short: {}", e.0[0]),
        score: 0.7,
    }
}

async fn draft_detailed(e: Evidence) -> Draft {
    Draft {
        text: format!("In detail: {}", e.0.join("; ")),
        score: 0.9,
    }
}

async fn draft_bulleted(e: Evidence) -> Draft {
    Draft {
        text: e
            .0
            .iter()
            .map(|h| format!("- {h}"))
            .collect::<Vec<_>>()
            .join("\n"),
        score: 0.8,
    }
}

fn draft_score(d: &Draft) -> f64 {
    d.score
}

fn combine_drafts(drafts: Vec<Draft>) -> Answer {
    Answer {
        body: drafts
            .into_iter()
            .map(|d| d.text)
            .collect::<Vec<_>>()
            .join("\n\n"),
        revisions: 0,
    }
}

fn polish(body: String) -> String {
    body.replace("  ", " ")
}

fn critique(a: Answer) -> Answer {
    a
}

fn revise(mut a: Answer) -> Answer {
    a.revisions += 1;
    a
}

fn good_enough(a: &Answer) -> bool {
    a.revisions >= 2
}

async fn publish(a: Answer) -> Result<String, std::io::Error> {
    Ok(format!(
        "published {} bytes after {} revisions",
        a.body.len(),
        a.revisions
    ))
}

#[tokio::main]
async fn main() -> Result<(), PlanError> {
    let research = plan! {
        parse_query
        >> #[timeout(2s)] par(all) { search_web, search_papers, search_code }
        >> merge_hits
        >> par(n_best(2, by = draft_score)) { draft_concise, draft_detailed, draft_bulleted }
        >> combine_drafts
        >> focus(Answer::body) { polish }
        >> loop(until = good_enough, max = 3) { critique >> revise }
        >> #[retry(3, backoff = 100ms)] #[name = "publish"] publish
    };

    println!("{}", research.graph().to_mermaid());
    let receipt = research.run("What is a Kleisli arrow?".to_string()).await?;
    println!("{receipt}");
    Ok(())
}
