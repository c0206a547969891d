//! What crosses the wire: a [`Job`] to a worker, its [`Done`] back.

use plan_runtime::budget::{Left, Spent};
use serde::{Deserialize, Serialize};

use crate::Signature;

/// One call of a remote step, as sent to a worker (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The step's name in the workers' [`Registry`](crate::Registry).
    pub step: String,
    /// What tells this call apart from every other: the run, the node's entry in it (its
    /// path and the passes around it) and the attempt, as ASCII letters, digits and
    /// `. = - _`. A job sent again with the same key is the same job: its first result is
    /// the one kept.
    pub key: String,
    /// The signature the coordinator expects.
    pub signature: Signature,
    /// The step's input.
    pub input: serde_json::Value,
    /// What is left of the run's budget, if it has one: the worker's run spends from a
    /// budget of that much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Left>,
}

/// A job's result, as kept for its key (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Done {
    /// The worker that ran it (empty if none did: a cancellation).
    pub worker: String,
    /// How it came out.
    pub outcome: Outcome,
    /// What the worker's run spent of the budget it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<Spent>,
}

/// How a job came out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The step's output.
    Output(serde_json::Value),
    /// The step failed, or the worker could not run it: why.
    Failed(String),
    /// The coordinator gave the job up (a `par(first)` loser, a deadline) before a worker
    /// finished it.
    Cancelled,
}

/// `id` (a run's id, a step's name) as a segment of a key or subject: as it is if it is 1 to 64 ASCII letters, digits, `-` and `_`;
/// otherwise `x` and its bytes in hex.
pub(crate) fn key_segment(id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        id.to_owned()
    } else {
        let mut hex = String::with_capacity(1 + 2 * id.len());
        hex.push('x');
        for b in id.bytes() {
            hex.push_str(&format!("{b:02x}"));
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_become_key_segments() {
        assert_eq!(key_segment("run-7_a"), "run-7_a");
        assert_eq!(key_segment("a.b"), "x612e62");
        assert_eq!(key_segment(""), "x");
    }
}
