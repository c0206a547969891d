//! `#[durable]`: a node whose output a durable run journals, and replays when it is run again.

use serde::Serialize;
use serde::de::DeserializeOwned;

use plan_core::layer::{Layered, Middleware};
use plan_core::{Cx, Describe, Entry, GraphBuilder, Journal, Plan, PlanError};

use crate::budget::{Budget, CHECKPOINT};

/// The layer of `#[durable]`: in a run that carries a [`Journal`] (a durable run), returns
/// the output the plan inside recorded on an earlier attempt of the run without running it;
/// else runs it, records its output, and returns it once the record is written. In a run
/// without a journal it runs the plan inside and nothing else. In a run that carries a
/// [`Budget`], what the budget has spent is journaled before each output (a [`Journal::checkpoint`]
/// named [`CHECKPOINT`](crate::budget::CHECKPOINT)), so that a run continued after a crash does not spend it again.
///
/// A node that was running when the process died had recorded nothing, so it runs again:
/// durable nodes run at least once, and exactly once if the process never dies while they
/// run. Steps with outside effects (a payment, an e-mail) should make them idempotent (a
/// key derived from their input) where running twice would matter.
///
/// ```
/// use plan_runtime::layer::{Durable, around};
/// use plan_runtime::prelude::*;
///
/// fn double(x: u32) -> u32 { x * 2 }
/// // As `#[durable] double`:
/// let p = plan! { #[layer(around(Durable))] double };
/// assert!(p.graph().nodes[1].durable);
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(p.run(21)).unwrap(), 42); // no journal: it just runs
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Durable;

/// `#[durable] inner`.
pub fn durable<P>(inner: P) -> Layered<Durable, P> {
    Layered::new(Durable, inner)
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

impl Describe for Durable {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_durable();
        preds.to_vec()
    }
}

impl<I, O, C> Middleware<I, O, C> for Durable
where
    I: Send,
    O: Serialize + DeserializeOwned + Send,
    C: Sync,
{
    async fn around<P>(&self, input: I, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
    where
        P: Plan<I, C, Out = O>,
    {
        let Some(journal) = cx.journal() else {
            return next.call(input, cx).await;
        };
        let entry = cx.entry();
        if let Some(output) = replay::<O>(journal, &entry).await? {
            if let Some(monitor) = cx.monitor() {
                monitor.count("replayed", 1.0);
            }
            return Ok(output);
        }
        let output = next.call(input, cx).await?;
        let json = serde_json::to_value(&output)
            .map_err(|e| PlanError::step(entry.node.clone(), JournalError::Encode(e)))?;
        let failed = |source| PlanError::Step {
            node: Box::new(entry.node.clone()),
            source,
        };
        // What the budget spent first: a crash between the two writes counts a call whose
        // output is lost (it runs again, and is counted again), never the other way round.
        if let Some(budget) = cx.extension::<Budget>() {
            let spent = serde_json::to_value(budget.spent())
                .map_err(|e| PlanError::step(entry.node.clone(), JournalError::Encode(e)))?;
            journal
                .checkpoint(CHECKPOINT, spent)
                .await
                .map_err(failed)?;
        }
        journal.record(&entry, json).await.map_err(failed)?;
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
