//! The journal of a durable run: where a node marked `#[durable]` finds the output it produced
//! before a crash, and records the output it produces now.

use futures::future::BoxFuture;

use crate::error::StepError;
use crate::node::NodeRef;

/// One node's place in a durable run's journal (see [`Cx::entry`](crate::Cx::entry)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The node, for errors.
    pub node: NodeRef,
    /// What tells this node's output apart from every other output of the run: the node's
    /// path and the passes (`loop`) and items (`each`) around it, as ASCII letters, digits
    /// and `. : -` (for example `1:2-1.0`, the step at `1/0` in pass 2 of the loop at `1`).
    pub key: String,
}

/// Where a durable run keeps the outputs of its durable nodes, as JSON. A run carries it as an
/// `Arc<dyn Journal>` among its [`Extensions`](crate::Extensions); a node marked `#[durable]`
/// asks it for the output it recorded on an earlier attempt of the run before running, and
/// records its output when it finishes. A run without a journal runs its durable nodes as
/// plain nodes.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
/// use futures::future::BoxFuture;
/// use plan_core::{Entry, Extensions, Journal, StepError};
///
/// /// Outputs in memory: a journal that does not survive the process.
/// #[derive(Default)]
/// struct InMemory(Mutex<HashMap<String, serde_json::Value>>);
///
/// impl Journal for InMemory {
///     fn replay<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<Option<serde_json::Value>, StepError>> {
///         Box::pin(async move { Ok(self.0.lock().unwrap().get(&entry.key).cloned()) })
///     }
///     fn record<'a>(&'a self, entry: &'a Entry, output: serde_json::Value) -> BoxFuture<'a, Result<(), StepError>> {
///         Box::pin(async move {
///             self.0.lock().unwrap().insert(entry.key.clone(), output);
///             Ok(())
///         })
///     }
/// }
///
/// let journal: Arc<dyn Journal> = Arc::new(InMemory::default());
/// let extensions = Extensions::new().with(&journal);
/// // A run given it (`plan.run(input).with(&journal)` in plan-runtime) journals its durable nodes.
/// # let _ = extensions;
/// ```
pub trait Journal: Send + Sync {
    /// The output recorded for `entry`, if any.
    fn replay<'a>(
        &'a self,
        entry: &'a Entry,
    ) -> BoxFuture<'a, Result<Option<serde_json::Value>, StepError>>;

    /// Records `output` for `entry`. The node returns its output only once this has
    /// succeeded, so an output the run went on with is one a later attempt replays.
    fn record<'a>(
        &'a self,
        entry: &'a Entry,
        output: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), StepError>>;

    /// The id of the durable run this journal is of, if it has one: what a step that hands
    /// work to another process keys it with, so that the run continued elsewhere finds it.
    fn run_id(&self) -> Option<&str> {
        None
    }

    /// Records `state`, the state of the run's `name` (what its budget has spent), before
    /// an output is recorded: whatever a later attempt replays, it also knows what had been
    /// spent to produce it. A later record replaces an earlier one. Journals that keep no
    /// such state need not implement it.
    fn checkpoint<'a>(
        &'a self,
        name: &'static str,
        state: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        let _ = (name, state);
        Box::pin(async { Ok(()) })
    }
}
