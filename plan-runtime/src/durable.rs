//! `#[durable]`: a node whose output a durable run journals, and replays when it is run again.

use serde::Serialize;
use serde::de::DeserializeOwned;

use plan_core::{Cx, Describe, Entry, GraphBuilder, Journal, Plan, PlanError};

/// In a run that carries a [`Journal`] (a durable run), returns the output `inner` recorded on
/// an earlier attempt of the run without running it; else runs it, records its output, and
/// returns it once the record is written. In a run without a journal it is `inner`.
///
/// A node that was running when the process died had recorded nothing, so it runs again:
/// durable nodes run at least once, and exactly once if the process never dies while they
/// run. Steps with outside effects (a payment, an e-mail) should make them idempotent (a
/// key derived from their input) where running twice would matter.
#[derive(Clone, Debug)]
pub struct Durable<P> {
    inner: P,
}

/// `#[durable] inner`.
pub fn durable<P>(inner: P) -> Durable<P> {
    Durable { inner }
}

/// Why a journaled output could not be written or read back.
#[derive(Debug, thiserror::Error)]
enum JournalError {
    #[error("its output cannot be journaled: {0}")]
    Encode(serde_json::Error),
    #[error("the output journaled for it (as `{key}`) is not a `{ty}`: {source}")]
    Decode {
        key: String,
        ty: &'static str,
        source: serde_json::Error,
    },
}

impl<P: Describe> Describe for Durable<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_durable();
        self.inner.describe(graph, preds)
    }
}

impl<I, C, P> Plan<I, C> for Durable<P>
where
    I: Send,
    C: Sync,
    P: Plan<I, C>,
    P::Out: Serialize + DeserializeOwned,
{
    type Out = P::Out;

    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<P::Out, PlanError> {
        let Some(journal) = cx.journal() else {
            return self.inner.call(input, cx).await;
        };
        let entry = cx.entry();
        if let Some(output) = replay::<P::Out>(journal, &entry).await? {
            if let Some(monitor) = cx.monitor() {
                monitor.count("replayed", 1.0);
            }
            return Ok(output);
        }
        let output = self.inner.call(input, cx).await?;
        let json = serde_json::to_value(&output)
            .map_err(|e| PlanError::step(entry.node.clone(), JournalError::Encode(e)))?;
        journal
            .record(&entry, json)
            .await
            .map_err(|source| PlanError::Step {
                node: Box::new(entry.node.clone()),
                source,
            })?;
        if let Some(monitor) = cx.monitor() {
            monitor.count("journaled", 1.0);
        }
        Ok(output)
    }
}

/// The output recorded for `entry`, if any, as a `T`.
async fn replay<T: DeserializeOwned>(
    journal: &dyn Journal,
    entry: &Entry,
) -> Result<Option<T>, PlanError> {
    let recorded = journal
        .replay(entry)
        .await
        .map_err(|source| PlanError::Step {
            node: Box::new(entry.node.clone()),
            source,
        })?;
    recorded
        .map(|json| {
            serde_json::from_value(json).map_err(|source| {
                let error = JournalError::Decode {
                    key: entry.key.clone(),
                    ty: std::any::type_name::<T>(),
                    source,
                };
                PlanError::step(entry.node.clone(), error)
            })
        })
        .transpose()
}
