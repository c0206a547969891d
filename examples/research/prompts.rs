//! What the agent asks the model: one system prompt per kind of call. The scripted model
//! recognises them to pick its answer; a real model just reads them.

/// Planning: 2–4 tool tasks, as JSON.
pub const PLAN: &str = "You plan research. Answer with JSON only, no prose: \
{\"tasks\": [{\"source\": \"docs\", \"query\": \"...\"}]}, with 2 to 4 tasks. \
The sources are: docs, issues, changelog.";

/// A draft of the answer, from the evidence, in a given style.
pub const DRAFT: &str = "You write a draft answer to the question from the evidence only. \
Cite every source you use as [name], e.g. [docs].";

/// A revision of the best draft, told what the evaluator missed.
pub const REVISE: &str = "You revise an answer. Keep what is right, fix what the reviewer \
says, and cite every source you use as [name].";

/// The final answer, streamed.
pub const SYNTHESIZE: &str = "You write the final answer: two or three sentences, \
citing sources as [name]. No preamble.";
