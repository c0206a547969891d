//! [`Worker`]: a process's server of steps, pulling jobs from a [`Nats`] engine's queue.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{Nats, consumer};
use crate::{Done, Job, Outcome, Registry, RemoteError};

/// Serves a [`Registry`]'s steps from a [`Nats`] engine's queue: registers their signatures,
/// then pulls jobs, up to [`Worker::concurrency`] at a time, and runs each — acknowledging
/// progress while it runs, stopping it if its coordinator gives it up, keeping its result
/// (the first kept for its key wins: a job delivered twice is kept once) and only then
/// acknowledging it, so that a worker that dies before has its job delivered to another.
///
/// A server that goes away is waited for: the worker keeps trying, and goes on when it is
/// back (or another node of its cluster answers).
///
/// ```no_run
/// use plan_remote::nats::{Nats, NatsConfig, Worker};
/// use plan_remote::Registry;
/// use plan_runtime::prelude::*;
///
/// fn square(n: u32) -> u64 { u64::from(n) * u64::from(n) }
/// # async fn run() -> Result<(), plan_remote::RemoteError> {
/// let nats = Nats::connect("nats://127.0.0.1:4222", NatsConfig::default()).await?;
/// let registry = Registry::new().step("square", plan! { square });
/// Worker::new(&nats, "w1", registry).serve().await?; // until the process is killed
/// # Ok(()) }
/// ```
pub struct Worker {
    nats: Nats,
    name: String,
    registry: Arc<Registry>,
    concurrency: usize,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("engine", &self.nats.inner.name)
            .field("steps", &*self.registry)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl Worker {
    /// Worker `name` (in reports and errors) serving `registry`'s steps from `nats`'s queue,
    /// 16 jobs at a time.
    pub fn new(nats: &Nats, name: &str, registry: Registry) -> Self {
        Worker {
            nats: nats.clone(),
            name: name.to_owned(),
            registry: Arc::new(registry),
            concurrency: 16,
        }
    }

    /// At most `jobs` jobs at a time (at least 1).
    pub fn concurrency(self, jobs: usize) -> Self {
        Worker {
            concurrency: jobs.max(1),
            ..self
        }
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Serves until an error it cannot wait out (the queue's consumer cannot be made).
    pub async fn serve(self) -> Result<(), RemoteError> {
        self.serve_until(std::future::pending()).await
    }

    /// Serves until `shutdown` completes; then the jobs it is running are dropped, unacked:
    /// the server gives them to another worker once their deadline passes.
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), RemoteError> {
        let nats = &self.nats;
        for step in self.registry.names() {
            let signature = self
                .registry
                .signature(step)
                .unwrap_or_else(|| unreachable!());
            let value = serde_json::to_vec(&signature).map_err(|e| nats.error("register", e))?;
            nats.bounded(
                "register its steps",
                nats.inner.steps.put(nats.step_key(step), value.into()),
            )
            .await?;
        }
        let consumer = consumer(nats).await?;
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let mut running = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            while running.try_join_next().is_some() {}
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
                () = &mut shutdown => break,
            };
            let fetch = consumer
                .fetch()
                .max_messages(1)
                .expires(Duration::from_secs(1))
                .messages();
            let next = async {
                let mut batch = fetch.await.map_err(|e| nats.error("take a job", e))?;
                batch
                    .next()
                    .await
                    .transpose()
                    .map_err(|e| nats.error("take a job", e))
            };
            let next = tokio::select! {
                next = next => next,
                () = &mut shutdown => break,
            };
            match next {
                Ok(Some(message)) => {
                    let registry = Arc::clone(&self.registry);
                    running.spawn(take(
                        message,
                        nats.clone(),
                        self.name.clone(),
                        registry,
                        slot,
                    ));
                }
                Ok(None) => {}
                Err(e) => {
                    // The server is away: wait for it, as its client reconnects.
                    tracing::warn!(worker = self.name, error = %e, "no job could be taken; trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        running.shutdown().await;
        Ok(())
    }
}

/// Runs the job `message` holds, as worker `worker`, holding `slot` while it runs.
async fn take(
    message: async_nats::jetstream::Message,
    nats: Nats,
    worker: String,
    registry: Arc<Registry>,
    slot: OwnedSemaphorePermit,
) {
    let _slot = slot;
    let job: Job = match serde_json::from_slice(&message.payload) {
        Ok(job) => job,
        Err(e) => {
            tracing::warn!(worker, error = %e, "a message that is no job: dropped");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let span = tracing::info_span!("job", worker, step = job.step, key = job.key);
    run(job, message, nats, worker, registry)
        .instrument(span)
        .await;
}

async fn run(
    job: Job,
    message: async_nats::jetstream::Message,
    nats: Nats,
    worker: String,
    registry: Arc<Registry>,
) {
    let key = job.key.clone();
    // Kept already: delivered again after a worker kept its result and died before it
    // acknowledged it, or given up by its coordinator.
    match nats.result(&key).await {
        Ok(Some(_)) => {
            let _ = message.ack().await;
            return;
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "its result could not be looked for: left for later");
            return;
        }
    }
    let delivered = message.info().map_or(1, |info| info.delivered);
    let max = i64::from(nats.inner.config.max_deliveries);
    if delivered > max {
        let done = Done {
            worker,
            outcome: Outcome::Failed(format!(
                "delivered {delivered} times: each worker that took it stopped before it finished"
            )),
            spent: None,
        };
        if nats.keep(&key, &done).await.is_ok() {
            let _ = message.ack().await;
        }
        return;
    }
    let mut cancelled = match nats.inner.client.subscribe(nats.cancel_subject(&key)).await {
        Ok(subscriber) => subscriber,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for its cancellation: left for later");
            return;
        }
    };
    // Given up before the subscription: the coordinator keeps `Cancelled` before it tells.
    if let Ok(Some(_)) = nats.result(&key).await {
        let _ = message.ack().await;
        return;
    }
    let every = nats.inner.config.redeliver_after / 3;
    let heartbeat = async {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            if let Err(e) = message.ack_with(AckKind::Progress).await {
                tracing::warn!(error = %e, "progress could not be acknowledged");
            }
        }
    };
    let done = tokio::select! {
        done = registry.run(&worker, job) => Some(done),
        _ = cancelled.next() => None,
        () = heartbeat => unreachable!("beats until the job ends"),
    };
    let Some(done) = done else {
        tracing::info!("given up by its coordinator: stopped");
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    match nats.keep(&key, &done).await {
        // Kept, or another delivery's result (or a cancellation) was kept first.
        Ok(_) => {
            let _ = message.ack().await;
        }
        Err(e) => tracing::warn!(error = %e, "its result could not be kept: it runs again"),
    }
}
