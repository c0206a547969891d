//! A durable run's journal in a store: each run's record (its input, stage and result) and the
//! outputs of its durable nodes, one key each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use plan_runtime::{Describe, Entry, Journal, StepError};
use serde::{Deserialize, Serialize};

use crate::sanitize::Sanitize;
use crate::store::{Key, Store, StoreError};
use crate::wait::Question;

/// What a store keeps of a run under `runs/ID/run`: the input it was started with (so that a
/// crash before its first node loses nothing), the plan it runs, and where it is.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    /// The plan's fingerprint (see [`fingerprint`]).
    pub plan: String,
    pub input: serde_json::Value,
    #[serde(flatten)]
    pub stage: Stage,
}

/// Where a run is.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub(crate) enum Stage {
    /// Started, and neither finished nor waiting: running, crashed or failed. Running it again
    /// continues from its journal.
    Running,
    /// Paused by an `ask` step until it is resumed with an answer.
    Waiting { question: Question },
    /// Finished with this result.
    Done { result: serde_json::Value },
}

/// The keys of one run in a store.
#[derive(Clone, Debug)]
pub(crate) struct RunKeys {
    /// The run's id.
    pub id: String,
    pub record: Key,
    /// `runs/ID/nodes/`, the prefix of the node outputs.
    pub nodes: String,
    /// `runs/ID/checkpoints/`, the prefix of the run's checkpoints (its budget's spending).
    pub checkpoints: String,
}

impl RunKeys {
    pub fn new(id: &str) -> Result<Self, StoreError> {
        Ok(RunKeys {
            id: id.to_owned(),
            record: Key::new(format!("runs/{id}/run"))?,
            nodes: format!("runs/{id}/nodes/"),
            checkpoints: format!("runs/{id}/checkpoints/"),
        })
    }

    /// The key of the checkpoint `name`.
    pub fn checkpoint(&self, name: &str) -> Result<Key, StoreError> {
        Key::new(format!("{}{name}", self.checkpoints))
    }

    /// The key of a node's output.
    pub fn node(&self, entry: &str) -> Result<Key, StoreError> {
        Key::new(format!("{}{entry}", self.nodes))
    }
}

/// A run's journal over a store: the outputs recorded by earlier attempts, read once when the
/// attempt starts, and every new output written through as its node finishes.
pub(crate) struct StoreJournal<S> {
    store: Arc<S>,
    keys: RunKeys,
    sanitize: Option<Arc<dyn Sanitize>>,
    recorded: Mutex<HashMap<String, serde_json::Value>>,
}

impl<S: Store> StoreJournal<S> {
    /// Writes `state` as the run's checkpoint `name`, over the one before.
    pub async fn save_checkpoint(
        &self,
        name: &str,
        state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let key = self.keys.checkpoint(name)?;
        self.store.put(&key, state).await?;
        Ok(())
    }

    /// The run's checkpoint `name`, if an attempt wrote one.
    pub async fn read_checkpoint(
        &self,
        name: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let key = self.keys.checkpoint(name)?;
        Ok(self.store.get(&key).await?.map(|found| found.value))
    }

    /// The journal of the run with `keys`, with what earlier attempts recorded; `sanitize`
    /// runs over every output before it is written.
    pub async fn load(
        store: Arc<S>,
        keys: RunKeys,
        sanitize: Option<Arc<dyn Sanitize>>,
    ) -> Result<Self, StoreError> {
        let mut recorded = HashMap::new();
        for key in store.keys(&keys.nodes).await? {
            let entry = key.as_str()[keys.nodes.len()..].to_owned();
            // A key listed and then gone was deleted under the run: nothing to replay.
            if let Some(value) = store.get(&key).await? {
                recorded.insert(entry, value.value);
            }
        }
        Ok(StoreJournal {
            store,
            keys,
            sanitize,
            recorded: Mutex::new(recorded),
        })
    }

    /// How many outputs earlier attempts recorded.
    pub fn len(&self) -> usize {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl<S: Store + 'static> Journal for StoreJournal<S> {
    fn replay<'a>(
        &'a self,
        entry: &'a Entry,
    ) -> BoxFuture<'a, Result<Option<serde_json::Value>, StepError>> {
        let recorded = self
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&entry.key)
            .cloned();
        Box::pin(std::future::ready(Ok(recorded)))
    }

    fn record<'a>(
        &'a self,
        entry: &'a Entry,
        mut output: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        if let Some(sanitize) = &self.sanitize {
            sanitize.sanitize(&mut output);
        }
        Box::pin(async move {
            let shared = |e: StoreError| Arc::new(e) as StepError;
            let key = self.keys.node(&entry.key).map_err(shared)?;
            self.store.put(&key, &output).await.map_err(shared)?;
            Ok(())
        })
    }

    fn run_id(&self) -> Option<&str> {
        Some(&self.keys.id)
    }

    fn checkpoint<'a>(
        &'a self,
        name: &'static str,
        state: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            self.save_checkpoint(name, &state)
                .await
                .map_err(|e| Arc::new(e) as StepError)
        })
    }
}

/// A plan's fingerprint: its nodes' paths, names and kinds, hashed (64-bit FNV-1a, which is
/// stable across builds and Rust versions, unlike `std`'s hasher). A run refuses to continue
/// under a plan whose fingerprint differs, since its journal's keys are node paths.
pub(crate) fn fingerprint(plan: &(impl Describe + ?Sized)) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for node in plan.graph().nodes {
        let kind = node.kind.as_str();
        for part in [node.path.as_str(), node.name, kind] {
            for byte in part.bytes().chain([0]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!("{hash:016x}")
}
