//! The research agent's steps: plain `async fn`s that call the backend with reqwest, and the
//! plain `fn`s between them. Each takes the run's [`Services`] as `&Ctx` when it needs the
//! network.

use plan_runtime::prelude::*;
use serde::de::DeserializeOwned;

use crate::service::{Draft, Hit, Page, Verdict};

/// The run's context: one HTTP client, shared by every step.
pub struct Services {
    pub http: reqwest::Client,
    pub base: String,
}

impl Services {
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, reqwest::Error> {
        let url = format!("{}{path}", self.base);
        self.http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let url = format!("{}{path}", self.base);
        self.http
            .post(url)
            .json(body)
            .send()
            .await?
            .error_for_status()
    }
}

#[derive(Clone, Debug)]
pub struct Query(String);

/// What the sources found, merged: the pages worth reading.
#[derive(Clone, Debug)]
pub struct Evidence(String);

/// The agent's working memory, kept across the refinement loop.
#[derive(Clone, Debug, Default, Lens)]
pub struct Memory {
    pub notes: Vec<String>,
}

/// The agent: its memory, its current answer and the critic's last score.
#[derive(Clone, Debug, Lens)]
pub struct Agent {
    pub memory: Memory,
    pub answer: String,
    pub score: f64,
}

/// What the run produces.
#[derive(Debug)]
pub struct Published {
    pub answer: String,
    pub receipt: String,
}

pub fn parse_question(question: String) -> Query {
    Query(question.trim().trim_end_matches('?').to_lowercase())
}

async fn search(source: &str, q: &Query, s: &Services) -> Result<Vec<Hit>, reqwest::Error> {
    let url = format!("{}/search/{source}", s.base);
    let ask = [("q", q.0.as_str())];
    s.http
        .get(url)
        .query(&ask)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

pub async fn search_web(q: Query, s: &Services) -> Result<Vec<Hit>, reqwest::Error> {
    search("web", &q, s).await
}

pub async fn search_papers(q: Query, s: &Services) -> Result<Vec<Hit>, reqwest::Error> {
    search("papers", &q, s).await
}

pub async fn search_code(q: Query, s: &Services) -> Result<Vec<Hit>, reqwest::Error> {
    search("code", &q, s).await
}

pub async fn search_archive(q: Query, s: &Services) -> Result<Vec<Hit>, reqwest::Error> {
    search("archive", &q, s).await
}

pub async fn mirror_eu(_: Query, s: &Services) -> Result<Vec<Hit>, reqwest::Error> {
    s.get("/mirror/eu").await
}

pub async fn mirror_us(_: Query, s: &Services) -> Result<Vec<Hit>, reqwest::Error> {
    s.get("/mirror/us").await
}

/// The sources' results, as `par(all)` gives them; the archive is optional.
pub type Found = (
    (Vec<Hit>, Vec<Hit>, Vec<Hit>),
    Vec<Hit>,
    (Result<Vec<Hit>, PlanError>,),
);

/// The distinct pages the hits point to, at most eight.
pub fn pick_pages(((web, papers, code), related, (archive,)): Found) -> Vec<u32> {
    let archive = archive.unwrap_or_default();
    let mut pages: Vec<u32> = [web, papers, code, related, archive]
        .into_iter()
        .flatten()
        .map(|hit| hit.page)
        .collect();
    pages.sort_unstable();
    pages.dedup();
    pages.truncate(8);
    pages
}

pub async fn fetch_page(id: u32, s: &Services) -> Result<Page, reqwest::Error> {
    s.get(&format!("/page/{id}")).await
}

pub fn build_evidence(pages: Vec<Page>) -> Evidence {
    Evidence(
        pages
            .into_iter()
            .map(|p| p.text)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

async fn write(style: &str, e: &Evidence, s: &Services) -> Result<Draft, reqwest::Error> {
    let ask = serde_json::json!({ "style": style, "evidence": e.0 });
    s.post("/draft", &ask).await?.json().await
}

pub async fn draft_concise(e: Evidence, s: &Services) -> Result<Draft, reqwest::Error> {
    write("concise", &e, s).await
}

pub async fn draft_detailed(e: Evidence, s: &Services) -> Result<Draft, reqwest::Error> {
    write("detailed", &e, s).await
}

pub async fn draft_bulleted(e: Evidence, s: &Services) -> Result<Draft, reqwest::Error> {
    write("bulleted", &e, s).await
}

pub fn draft_quality(d: &Draft) -> f64 {
    d.quality
}

/// The two best drafts become the agent's first answer; their styles, its first notes.
pub fn start_agent(drafts: Vec<Draft>) -> Agent {
    Agent {
        memory: Memory {
            notes: drafts
                .iter()
                .map(|d| format!("kept the {} draft", d.style))
                .collect(),
        },
        answer: drafts
            .into_iter()
            .map(|d| d.text)
            .collect::<Vec<_>>()
            .join(" "),
        score: 0.0,
    }
}

/// Works on the memory alone (through `focus`): condenses the notes into one line.
pub fn condense(memory: Memory) -> Memory {
    Memory {
        notes: vec![memory.notes.join("; ")],
    }
}

pub async fn critique(agent: Agent, s: &Services) -> Result<(Agent, Verdict), reqwest::Error> {
    let verdict = s.post("/critique", &agent.answer).await?.json().await?;
    Ok((agent, verdict))
}

pub fn revise((mut agent, verdict): (Agent, Verdict)) -> Agent {
    agent.score = verdict.score;
    if verdict.score < 0.85 {
        agent.answer.push_str(" [revised]");
        agent.memory.notes.push(verdict.advice);
    }
    agent
}

pub fn good_enough(agent: &Agent) -> bool {
    agent.score >= 0.85
}

pub async fn publish(agent: Agent, s: &Services) -> Result<Published, reqwest::Error> {
    let receipt = s.post("/publish", &agent.answer).await?.text().await?;
    Ok(Published {
        answer: agent.answer,
        receipt,
    })
}
