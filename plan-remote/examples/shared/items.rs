//! What the `worker` and `cluster` examples share: the item step and its output.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use plan_runtime::{Cx, Describe, Plan, PlanError};
use serde::{Deserialize, Serialize};

/// One item's result, and the worker that made it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    pub n: u32,
    pub square: u64,
    pub worker: String,
}

/// The step workers serve as `item`: says `took item N` if `announce`, takes `pause`,
/// appends `N WORKER` to the effects file if there is one (the effect a rerun must not
/// repeat), and returns the item.
pub struct ItemStep {
    pub worker: String,
    pub effects: Option<PathBuf>,
    pub pause: Duration,
    pub announce: bool,
}

impl Describe for ItemStep {}

impl Plan<u32> for ItemStep {
    type Out = Item;

    async fn call(&self, n: u32, cx: Cx<'_, ()>) -> Result<Item, PlanError> {
        if self.announce {
            println!("took item {n}");
        }
        tokio::time::sleep(self.pause).await;
        if let Some(path) = &self.effects {
            let write = || -> std::io::Result<()> {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                // One `write` of a whole line: a kill leaves whole lines only.
                file.write_all(format!("{n} {}\n", self.worker).as_bytes())
            };
            write().map_err(|e| PlanError::step(plan_runtime::NodeRef::current(&cx), e))?;
        }
        Ok(Item {
            n,
            square: u64::from(n) * u64::from(n),
            worker: self.worker.clone(),
        })
    }
}
