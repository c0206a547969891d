//! [`Engine`]: the seam between a plan's remote steps and whatever runs them on workers.

use futures::future::BoxFuture;

use crate::{Done, Job, RemoteError, Signature};

/// What runs remote steps' jobs on workers: NATS JetStream ([`Nats`](crate::nats::Nats)),
/// this process ([`Local`](crate::Local)), or another engine of your own (a Temporal task
/// queue, Restate). A plan's remote steps see only this trait, so a plan runs unchanged on
/// any engine.
///
/// An engine owes its steps:
///
/// * **at least once**: a job dispatched runs to its end on some worker at least once, even
///   if a worker dies with it, unless it is cancelled;
/// * **one result per key**: the first result kept for a job's [`key`](Job::key) is the one
///   every dispatch of that key gets, however often the job ran (so that a job dispatched
///   again after the coordinator's crash gets the result it had, and does not run again);
/// * **cancellation**: dropping the future `dispatch` returned gives the job up, and a worker
///   running it stops it.
pub trait Engine: Send + Sync + 'static {
    /// What the engine is, in errors and logs (never with credentials).
    fn name(&self) -> &str;

    /// The signature the workers serve step `step` with, if any worker has registered it.
    fn served<'a>(&'a self, step: &'a str)
    -> BoxFuture<'a, Result<Option<Signature>, RemoteError>>;

    /// Runs `job` on a worker; its result, the first kept for its key.
    fn dispatch(&self, job: Job) -> BoxFuture<'_, Result<Done, RemoteError>>;
}
