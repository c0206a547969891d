//! The research agent: the plan, and the plain functions it is made of.
//!
//! A model plans 2–4 tool tasks as JSON; the tasks run at once (at most two at a time, errors
//! isolated) through the HTTP tool; three drafts are written in parallel and an evaluator
//! keeps the best; a bounded loop revises it; a model writes the final answer, streamed.
//! Every model and tool call is `#[durable]`: a durable run journals its output as it
//! finishes, and a rerun of the run replays it instead of calling again.

use std::sync::Mutex;

use plan_runtime::prelude::*;
use plan_tools::http::{Http, Request, Response};
use plan_tools::limit::Limited;
use plan_tools::llm::{ChatMessage, ChatRequest, Completion, OpenAi, Usage};
use serde::{Deserialize, Serialize};

use crate::console::Console;
use crate::prompts;
use crate::sources::Finding;
use crate::streamed::Streamed;

/// A tool task, as the model plans it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub source: String,
    pub query: String,
}

/// What the tasks found.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub findings: Vec<Finding>,
}

/// A draft of the answer, with the evaluator's score.
#[derive(Clone, Debug)]
pub struct Draft {
    pub text: String,
    pub score: f64,
}

/// What a run gives: the answer and the model usage of the whole run (what a rerun replayed
/// included).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finished {
    pub answer: String,
    pub usage: Usage,
    /// Each task's source, and whether it answered.
    pub sources: Vec<(String, bool)>,
}

/// Where `--pause-after` stops the run (for the test that kills it there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    Plan,
    Tools,
}

/// What the steps share.
pub struct Ctx {
    pub question: String,
    /// The base URL of the sources the tools read.
    pub sources: String,
    /// What the agent remembers of earlier runs, for the planning prompt.
    pub recollection: String,
    pub console: Console,
    pub pause_after: Option<Pause>,
    /// The model usage, summed by the steps that read completions.
    pub usage: Mutex<Usage>,
    /// The tasks planned, then whether each task's source answered.
    pub tasks: Mutex<Vec<Task>>,
    pub sources_answered: Mutex<Vec<(String, bool)>>,
}

impl Ctx {
    fn tally(&self, completion: &Completion) {
        let mut usage = self.usage.lock().expect("no step panics holding it");
        usage.prompt_tokens += completion.usage.prompt_tokens;
        usage.completion_tokens += completion.usage.completion_tokens;
        usage.total_tokens += completion.usage.total_tokens;
        usage.estimated |= completion.usage.estimated;
    }

    /// With `--pause-after`, stops here for good: what ran before is journaled.
    async fn pause(&self, here: Pause) {
        if self.pause_after == Some(here) {
            let here = match here {
                Pause::Plan => "plan",
                Pause::Tools => "tools",
            };
            self.console.line(&format!(
                "paused after the {here} (--pause-after {here}): what ran before is journaled"
            ));
            std::future::pending::<()>().await;
        }
    }
}

/// The research plan: `question -> Finished`.
pub fn research(
    model: OpenAi,
    tool: Limited<Http>,
    console: Console,
) -> impl Plan<String, Ctx, Out = Finished> {
    // One tool call: a task as an HTTP request to its source, the finding read from the
    // answer. Durable as a whole: the request names this process's sources, the finding
    // does not.
    let fetch =
        plan! { #![name = "fetch"] task_request >> #[name = "http"] (tool) >> read_finding };
    let streamed = Streamed {
        model: model.clone(),
        console,
    };
    plan! {
        #![name = "research"]
        ask_for_tasks                                            // question -> ChatRequest
        >> #[durable] #[name = "plan tasks"] (model.clone())     // -> Completion
        >> read_tasks                                            // -> Vec<Task>
        >> #[name = "tasks"] each(settled, limit = 2) {          // -> Vec<Result<Finding, _>>
            #[durable] #[name = "task"] (fetch)
        }
        >> gather                                                // -> Evidence
        >> #[name = "drafts"] par(n_best(1, by = score)) {       // -> Vec<Draft>, the best
            #[name = "brief"] (ask_for_draft("brief"))
                >> #[durable] #[name = "draft"] (model.clone()) >> read_draft,
            #[name = "thorough"] (ask_for_draft("thorough"))
                >> #[durable] #[name = "draft"] (model.clone()) >> read_draft,
            #[name = "cited"] (ask_for_draft("cited"))
                >> #[durable] #[name = "draft"] (model.clone()) >> read_draft,
        }
        >> best                                                  // -> Draft
        >> #[name = "revise"] loop(until = good_enough, max = 2, on_limit = stop) {
            ask_to_revise >> #[durable] #[name = "revision"] (model.clone()) >> read_draft
        }
        >> ask_to_synthesize                                     // -> ChatRequest
        >> #[durable] #[name = "synthesize"] (streamed)          // -> Completion, printed as it comes
        >> finish                                                // -> Finished
    }
}

fn chat(system: &str, user: String) -> ChatRequest {
    ChatRequest::new([ChatMessage::system(system), ChatMessage::user(user)]).max_tokens(400)
}

fn ask_for_tasks(question: String, ctx: &Ctx) -> ChatRequest {
    chat(
        prompts::PLAN,
        format!("Question: {question}\n{}", ctx.recollection),
    )
}

/// The tasks if the model's answer is a JSON plan of 2–4 tasks (in a code fence or not);
/// the default tasks, and a line saying so, if not.
async fn read_tasks(completion: Completion, ctx: &Ctx) -> Vec<Task> {
    #[derive(Deserialize)]
    struct Planned {
        tasks: Vec<Task>,
    }
    ctx.tally(&completion);
    let text = completion.text().unwrap_or_default().trim();
    let json = text
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```");
    let tasks = match serde_json::from_str::<Planned>(json) {
        Ok(Planned { tasks }) if (2..=4).contains(&tasks.len()) => {
            ctx.console.line(&format!(
                "plan: the model planned {} tasks: {}",
                tasks.len(),
                tasks
                    .iter()
                    .map(|t| t.source.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            tasks
        }
        Ok(Planned { tasks }) => default_tasks(ctx, &format!("{} tasks, not 2–4", tasks.len())),
        Err(err) => default_tasks(ctx, &format!("not valid JSON: {err}")),
    };
    ctx.tasks
        .lock()
        .expect("no step panics holding it")
        .clone_from(&tasks);
    ctx.pause(Pause::Plan).await;
    tasks
}

fn default_tasks(ctx: &Ctx, why: &str) -> Vec<Task> {
    ctx.console.line(&format!(
        "plan: the model's plan is {why}; using the default tasks: docs, issues, changelog"
    ));
    let task = |source: &str| Task {
        source: source.to_owned(),
        query: ctx.question.clone(),
    };
    vec![task("docs"), task("issues"), task("changelog")]
}

fn task_request(task: Task, ctx: &Ctx) -> Result<Request, String> {
    let mut url = reqwest::Url::parse(&ctx.sources).map_err(|e| e.to_string())?;
    // A path segment of its own, escaped: the model chose this name.
    url.path_segments_mut()
        .map_err(|()| "the sources' URL has no path")?
        .extend(["sources", &task.source]);
    url.query_pairs_mut().append_pair("q", &task.query);
    Ok(Request::get(url.as_str()))
}

fn read_finding(response: Response) -> Result<Finding, serde_json::Error> {
    response.json()
}

/// The findings; a failed task is one line, and the others go on (`each(settled)`).
async fn gather(results: Vec<Result<Finding, PlanError>>, ctx: &Ctx) -> Result<Evidence, String> {
    let tasks = ctx.tasks.lock().expect("no step panics holding it").clone();
    let mut findings = Vec::new();
    let mut sources = Vec::new();
    let mut first_failure = None;
    for (task, result) in tasks.into_iter().zip(results) {
        sources.push((task.source.clone(), result.is_ok()));
        match result {
            Ok(finding) => findings.push(finding),
            Err(err) => {
                ctx.console.line(&format!(
                    "tasks: `{}` failed, the others went on (each(settled)): {err}",
                    task.source
                ));
                first_failure.get_or_insert_with(|| err.to_string());
            }
        }
    }
    *ctx.sources_answered
        .lock()
        .expect("no step panics holding it") = sources;
    if findings.is_empty() {
        return Err(format!(
            "no task found anything to answer from; the first failed with: {}",
            first_failure.unwrap_or_default()
        ));
    }
    ctx.pause(Pause::Tools).await;
    Ok(Evidence { findings })
}

fn ask_for_draft(style: &'static str) -> impl Fn(Evidence, &Ctx) -> ChatRequest + Send + Sync {
    move |evidence, ctx| {
        let evidence: Vec<String> = evidence
            .findings
            .iter()
            .map(|f| format!("[{}] {}", f.source, f.text))
            .collect();
        chat(
            prompts::DRAFT,
            format!(
                "Style: {style}\nQuestion: {}\nEvidence:\n{}",
                ctx.question,
                evidence.join("\n")
            ),
        )
    }
}

/// The evaluator: the sources a draft cites, as `[name]`, each once.
pub fn evaluate(text: &str) -> f64 {
    let mut cited: Vec<&str> = text
        .split('[')
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    cited.sort_unstable();
    cited.dedup();
    cited.len() as f64
}

fn read_draft(completion: Completion, ctx: &Ctx) -> Draft {
    ctx.tally(&completion);
    let text = completion.text().unwrap_or_default().trim().to_owned();
    let score = evaluate(&text);
    Draft { text, score }
}

fn score(draft: &Draft) -> f64 {
    draft.score
}

fn best(mut drafts: Vec<Draft>, ctx: &Ctx) -> Draft {
    let best = drafts.remove(0);
    ctx.console.line(&format!(
        "evaluator: kept the best of 3 drafts, citing {} source(s)",
        best.score
    ));
    best
}

/// Three sources cited is good enough.
fn good_enough(draft: &Draft) -> bool {
    draft.score >= 3.0
}

fn ask_to_revise(draft: Draft, ctx: &Ctx) -> ChatRequest {
    ctx.console.line(&format!(
        "revise: the answer cites {} source(s); the model revises it",
        draft.score
    ));
    chat(
        prompts::REVISE,
        format!(
            "The reviewer: it cites {} source(s); cite at least three.\nQuestion: {}\nAnswer: {}",
            draft.score, ctx.question, draft.text
        ),
    )
}

fn ask_to_synthesize(draft: Draft, ctx: &Ctx) -> ChatRequest {
    chat(
        prompts::SYNTHESIZE,
        format!("Question: {}\nBest draft: {}", ctx.question, draft.text),
    )
}

fn finish(completion: Completion, ctx: &Ctx) -> Finished {
    ctx.tally(&completion);
    let usage = ctx.usage.lock().expect("no step panics holding it").clone();
    let sources = ctx
        .sources_answered
        .lock()
        .expect("no step panics holding it")
        .clone();
    Finished {
        answer: completion.text().unwrap_or_default().trim().to_owned(),
        usage,
        sources,
    }
}
