//! What the agent keeps between runs, in the SQLite store: each finished run's answer
//! (plan-state's `Memory`, by run id) and whether each source answers (its `Beliefs`), loaded
//! before a run and saved after it with plan-state's `Persist` steps.

use std::sync::Arc;

use plan_runtime::prelude::*;
use plan_state::beliefs::Beliefs;
use plan_state::memory::Memory;
use plan_state::persist::{Persist, Stored};
use plan_state::store::{Key, Sqlite};
use serde::{Deserialize, Serialize};

use crate::agent::Finished;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Mind {
    /// Each finished run's answer, by run id.
    pub answers: Memory<String>,
    /// "`source` answers", for every source a task used.
    pub beliefs: Beliefs,
}

fn answers(source: &str) -> String {
    format!("{source} answers")
}

/// The agent's mind as stored, or an empty one on a first run.
pub async fn recall(store: Arc<Sqlite>) -> Result<Stored<Mind>, PlanError> {
    let minds: Persist<Mind, _> = Persist::new(store).or_default();
    let key = Key::new("research/mind").expect("a valid key");
    plan! { (minds.load_at(key)) }.run(()).await
}

/// Writes the mind back.
pub async fn keep(store: Arc<Sqlite>, mind: Stored<Mind>) -> Result<Stored<Mind>, PlanError> {
    let minds: Persist<Mind, _> = Persist::new(store);
    plan! { (minds.save()) }.run(mind).await
}

impl Mind {
    /// What it remembers, in a line for a person.
    pub fn summary(&self) -> String {
        let Some((_, latest)) = self.answers.iter().last() else {
            return "memory: nothing remembered yet: this is the first run with this store"
                .to_owned();
        };
        let beliefs: Vec<String> = self
            .beliefs
            .iter()
            .map(|(what, belief)| format!("{what} {:.0}%", 100.0 * belief.probability()))
            .collect();
        let start: String = latest.chars().take(60).collect();
        format!(
            "memory: I remember {} earlier run(s); the latest answered “{start}…”\n\
             beliefs: {}",
            self.answers.len(),
            beliefs.join(", ")
        )
    }

    /// What the planning prompt is told: the sources that failed before.
    pub fn recollection(&self) -> String {
        let failed: Vec<&str> = self
            .beliefs
            .iter()
            .filter(|(_, belief)| belief.probability() < 0.5)
            .filter_map(|(what, _)| what.strip_suffix(" answers"))
            .collect();
        if failed.is_empty() {
            String::new()
        } else {
            format!(
                "Sources that failed before (leave them out): {}",
                failed.join(", ")
            )
        }
    }

    /// Learns from the finished run `id`, once: a rerun of a finished run teaches nothing new.
    pub fn learn(&mut self, id: &str, finished: &Finished) {
        if self.answers.recall(id).is_some() {
            return;
        }
        self.answers.remember(id, finished.answer.clone());
        for (source, answered) in &finished.sources {
            let delta = if *answered { 1.0 } else { -1.0 };
            self.beliefs
                .update(&answers(source), delta)
                .expect("±1 is a valid update");
        }
    }
}
