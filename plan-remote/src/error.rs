//! [`RemoteError`]: what can go wrong handing a step to a worker.

use crate::Signature;

/// Why a remote step failed, or a worker or engine could not do its work. A remote step's
/// error reaches the plan as `PlanError::step(node, RemoteError)`, naming the node; the
/// variants about a run on a worker name the worker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// No worker has registered the step.
    #[error("no worker serves step `{step}` ({engine}): start a worker whose registry has it")]
    NotServed {
        /// The step.
        step: String,
        /// Where it was looked for.
        engine: String,
    },
    /// The workers serve the step with other types than the plan calls it with.
    #[error(
        "step `{step}` is served as `{served}`, but the plan calls it as `{called}`: give both \
         sides the same input and output types"
    )]
    Mismatch {
        /// The step.
        step: String,
        /// How the plan calls it.
        called: Signature,
        /// How the workers serve it.
        served: Signature,
    },
    /// The step failed on a worker, or the worker could not run it.
    #[error("step `{step}` failed on worker `{worker}`: {message}")]
    Failed {
        /// The step.
        step: String,
        /// The worker.
        worker: String,
        /// Why.
        message: String,
    },
    /// The step's input could not be written as JSON.
    #[error("the input of step `{step}` cannot be sent: {source}")]
    Encode {
        /// The step.
        step: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A worker's output is not what the plan expects.
    #[error("the output of step `{step}` from worker `{worker}` cannot be read: {source}")]
    Decode {
        /// The step.
        step: String,
        /// The worker.
        worker: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The engine (NATS) failed: the server is down, a request timed out.
    #[error("{engine}: cannot {operation}: {source}")]
    Backend {
        /// The engine.
        engine: String,
        /// What it was doing.
        operation: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
