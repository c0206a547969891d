//! [`Nats`]: the engine on NATS JetStream — jobs in a work-queue stream that workers pull
//! from, results in a key-value bucket, cancellations on core NATS.
//!
//! For a namespace `ns` ([`NatsConfig::namespace`]):
//!
//! | what | where | why |
//! | --- | --- | --- |
//! | jobs of queue `q` | stream `ns_jobs`, subject `ns.jobs.q`; consumer `q` | work-queue retention: a job stays until a worker acks it; deduplicated by key (`Nats-Msg-Id`) |
//! | results | key-value bucket `ns_results`, key = the job's key | the first result kept wins (`create`); a coordinator watches its job's key |
//! | steps served | key-value bucket `ns_steps`, key `q.STEP` | each step's [`Signature`], as its workers registered it |
//! | cancellations | core subject `ns.cancel.KEY` | a worker running the job stops it |
//!
//! A worker that takes a job acknowledges progress every third of the redelivery deadline
//! while the step runs ([`NatsConfig::redeliver_after`]); a worker that dies stops doing so,
//! and the server gives the job to another worker once the deadline passes. Streams and
//! buckets have [`NatsConfig::replicas`] replicas: with 3 on a 3-node cluster, the loss of
//! one node loses nothing.

mod store;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use futures::future::BoxFuture;

pub use store::{NatsStore, NatsStoreConfig};
pub use worker::Worker;

use crate::job::key_segment;
use crate::{Done, Engine, Job, Outcome, RemoteError, Signature};

/// How a [`Nats`] engine lays its work out on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConfig {
    /// What its streams, buckets and subjects start with: 1 to 16 ASCII letters and digits.
    /// Default `plan`.
    pub namespace: String,
    /// The queue its jobs go to, and its workers take them from: 1 to 32 ASCII letters,
    /// digits, `-` and `_`. Default `default`.
    pub queue: String,
    /// How many servers of a cluster keep each stream and bucket (1 to 5). Default 1; 3 on
    /// a 3-node cluster survives the loss of a node.
    pub replicas: usize,
    /// How long a job a worker took may go without news (the worker acknowledges progress
    /// every third of it while the step runs) before the server gives it to another worker.
    /// Default 30 s.
    pub redeliver_after: Duration,
    /// How often a job may be delivered before a worker fails it instead of running it
    /// again (each worker that took it died with it). Default 5.
    pub max_deliveries: u32,
    /// How long a job's result is kept after it was written: a run continued later than
    /// that after a crash runs the job again. Default 7 days.
    pub keep_results: Duration,
    /// Two jobs sent with one key within this window are one job. Default 2 minutes.
    pub duplicate_window: Duration,
    /// How long connecting, and each request to the server, may take. Default 5 s.
    pub timeout: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            namespace: "plan".to_owned(),
            queue: "default".to_owned(),
            replicas: 1,
            redeliver_after: Duration::from_secs(30),
            max_deliveries: 5,
            keep_results: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The engine on a NATS server (or cluster) with JetStream: a coordinator dispatches its
/// remote steps' jobs with it ([`Remote::new`](crate::Remote::new)), and [`Worker`]s serve
/// them. Clones share one connection, which reconnects by itself.
///
/// ```no_run
/// use plan_remote::nats::{Nats, NatsConfig};
/// use plan_remote::Remote;
///
/// # async fn run() -> Result<(), plan_remote::RemoteError> {
/// let nats = Nats::connect("nats://127.0.0.1:4222", NatsConfig::default()).await?;
/// let square = Remote::new(nats).step::<u32, u64>("square").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Nats {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    jobs: stream::Stream,
    results: kv::Store,
    steps: kv::Store,
    config: NatsConfig,
    /// `nats HOST:PORT queue Q`, for errors: never the URL, which may hold credentials.
    name: String,
}

impl Nats {
    /// Connects to the server at `urls` (one URL, or several comma-separated: the nodes of a
    /// cluster) and makes what `config` lays out, if it does not exist. Fails within
    /// `config.timeout` if no server answers or it has no JetStream.
    pub async fn connect(urls: &str, config: NatsConfig) -> Result<Self, RemoteError> {
        check(&config)?;
        let parsed = store::servers(urls);
        let at = parsed
            .as_deref()
            .map_or_else(|_| "?".to_owned(), store::hosts);
        let name = format!("nats {at} queue {}", config.queue);
        let fail =
            |operation, source: Box<dyn std::error::Error + Send + Sync>| RemoteError::Backend {
                engine: name.clone(),
                operation,
                source,
            };
        let servers = parsed.map_err(|e| fail("connect", e.into()))?;
        let options = async_nats::ConnectOptions::new()
            .name("plan-remote")
            .connection_timeout(config.timeout);
        let connecting = store::with_credentials(options, &servers)
            .map_err(|e| fail("connect", e.into()))?
            .connect(servers);
        let client = tokio::time::timeout(config.timeout, connecting)
            .await
            .map_err(|_| fail("connect", "timed out".into()))?
            .map_err(|e| fail("connect", e.into()))?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .build(client.clone());
        let ns = &config.namespace;
        let setup = || async {
            let jobs = jetstream
                .create_or_update_stream(stream::Config {
                    name: format!("{ns}_jobs"),
                    subjects: vec![format!("{ns}.jobs.*")],
                    retention: stream::RetentionPolicy::WorkQueue,
                    num_replicas: config.replicas,
                    duplicate_window: config.duplicate_window,
                    ..Default::default()
                })
                .await
                .map_err(|e| fail("make the jobs' stream", e.into()))?;
            let jobs = jetstream
                .get_stream(&jobs.config.name)
                .await
                .map_err(|e| fail("open the jobs' stream", e.into()))?;
            // Made as `create_key_value` makes a bucket's stream, which it cannot do on a 2.9
            // server (it reads the account's info into fields such a server lacks).
            let jetstream = &jetstream;
            let fail = &fail;
            let bucket = |bucket: String, max_age| async move {
                jetstream
                    .create_or_update_stream(stream::Config {
                        name: format!("KV_{bucket}"),
                        subjects: vec![format!("$KV.{bucket}.>")],
                        max_messages_per_subject: 1,
                        max_age,
                        discard: stream::DiscardPolicy::New,
                        allow_rollup: true,
                        deny_delete: true,
                        allow_direct: true,
                        num_replicas: config.replicas,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| fail("make a bucket", e.into()))?;
                jetstream
                    .get_key_value(&bucket)
                    .await
                    .map_err(|e| fail("open a bucket", e.into()))
            };
            let results = bucket(format!("{ns}_results"), config.keep_results).await?;
            let steps = bucket(format!("{ns}_steps"), Duration::ZERO).await?;
            Ok::<_, RemoteError>((jobs, results, steps))
        };
        // A cluster that has just formed, or lost a node, may need a few seconds to place a
        // replicated stream: setting up is tried again, for up to four timeouts in all.
        let deadline = tokio::time::Instant::now() + 4 * config.timeout;
        let (jobs, results, steps) = loop {
            match tokio::time::timeout_at(deadline, setup()).await {
                Ok(Ok(made)) => break made,
                Ok(Err(e))
                    if tokio::time::Instant::now() + Duration::from_millis(250) >= deadline =>
                {
                    return Err(e);
                }
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(_) => return Err(fail("set up its streams", "timed out".into())),
            }
        };
        Ok(Nats {
            inner: Arc::new(Inner {
                client,
                jetstream,
                jobs,
                results,
                steps,
                config,
                name,
            }),
        })
    }

    /// The same engine (one connection) for another queue: its jobs go to `queue`.
    pub fn queue(&self, queue: &str) -> Result<Self, RemoteError> {
        let config = NatsConfig {
            queue: queue.to_owned(),
            ..self.inner.config.clone()
        };
        check(&config)?;
        let name = match self.inner.name.rsplit_once(" queue ") {
            Some((server, _)) => format!("{server} queue {queue}"),
            None => self.inner.name.clone(),
        };
        Ok(Nats {
            inner: Arc::new(Inner {
                client: self.inner.client.clone(),
                jetstream: self.inner.jetstream.clone(),
                jobs: self.inner.jobs.clone(),
                results: self.inner.results.clone(),
                steps: self.inner.steps.clone(),
                config,
                name,
            }),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &NatsConfig {
        &self.inner.config
    }

    fn error(
        &self,
        operation: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> RemoteError {
        RemoteError::Backend {
            engine: self.inner.name.clone(),
            operation,
            source: source.into(),
        }
    }

    /// Bounds `operation` by the configured timeout.
    async fn bounded<T, E>(
        &self,
        operation: &'static str,
        future: impl Future<Output = Result<T, E>>,
    ) -> Result<T, RemoteError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match tokio::time::timeout(self.inner.config.timeout, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.error(operation, e)),
            Err(_) => Err(self.error(operation, "timed out")),
        }
    }

    fn jobs_subject(&self) -> String {
        format!(
            "{}.jobs.{}",
            self.inner.config.namespace, self.inner.config.queue
        )
    }

    fn cancel_subject(&self, key: &str) -> String {
        format!("{}.cancel.{key}", self.inner.config.namespace)
    }

    fn step_key(&self, step: &str) -> String {
        format!("{}.{}", self.inner.config.queue, key_segment(step))
    }

    /// The result kept for `key`, if there is one.
    async fn result(&self, key: &str) -> Result<Option<Done>, RemoteError> {
        let entry = self
            .bounded("read a result", self.inner.results.entry(key))
            .await?;
        match entry {
            Some(entry) if entry.operation == Operation::Put => Ok(Some(decode(&entry.value)?)),
            _ => Ok(None),
        }
    }

    /// Keeps `done` as `key`'s result, unless one is kept already; whether it was kept.
    async fn keep(&self, key: &str, done: &Done) -> Result<bool, RemoteError> {
        let value = serde_json::to_vec(done).map_err(|e| self.error("write a result", e))?;
        let created = tokio::time::timeout(
            self.inner.config.timeout,
            self.inner.results.create(key, value.into()),
        )
        .await
        .map_err(|_| self.error("write a result", "timed out"))?;
        match created {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(self.error("write a result", e)),
        }
    }
}

fn decode(value: &[u8]) -> Result<Done, RemoteError> {
    serde_json::from_slice(value).map_err(|e| RemoteError::Backend {
        engine: "nats".to_owned(),
        operation: "read a result",
        source: e.into(),
    })
}

fn check(config: &NatsConfig) -> Result<(), RemoteError> {
    let bad = |what: &str| RemoteError::Backend {
        engine: "nats".to_owned(),
        operation: "take its configuration",
        source: what.to_owned().into(),
    };
    let ns = &config.namespace;
    if ns.is_empty() || ns.len() > 16 || !ns.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("a namespace is 1 to 16 ASCII letters and digits"));
    }
    let q = &config.queue;
    if q.is_empty()
        || q.len() > 32
        || !q
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("a queue is 1 to 32 ASCII letters, digits, `-` and `_`"));
    }
    if !(1..=5).contains(&config.replicas) {
        return Err(bad("replicas are 1 to 5"));
    }
    if config.redeliver_after < Duration::from_millis(300) {
        return Err(bad("redeliver_after is at least 300 ms"));
    }
    Ok(())
}

impl Engine for Nats {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn served<'a>(
        &'a self,
        step: &'a str,
    ) -> BoxFuture<'a, Result<Option<Signature>, RemoteError>> {
        Box::pin(async move {
            let value = self
                .bounded(
                    "read the steps served",
                    self.inner.steps.get(self.step_key(step)),
                )
                .await?;
            value
                .map(|value| {
                    serde_json::from_slice(&value)
                        .map_err(|e| self.error("read the steps served", e))
                })
                .transpose()
        })
    }

    fn dispatch(&self, job: Job) -> BoxFuture<'_, Result<Done, RemoteError>> {
        Box::pin(async move {
            let mut cancel = CancelOnDrop {
                nats: None,
                key: job.key.clone(),
            };
            // The server's troubles (a node lost, a leader being elected) are waited out for
            // up to six timeouts in a row.
            let mut trouble = None;
            loop {
                match self.await_result(&job, &mut cancel, &mut trouble).await {
                    Ok(done) => {
                        cancel.nats = None;
                        return done;
                    }
                    Err(e) => {
                        let since = *trouble.get_or_insert_with(tokio::time::Instant::now);
                        if since.elapsed() > 6 * self.inner.config.timeout {
                            return Err(e);
                        }
                        tracing::warn!(key = job.key, error = %e, "waiting for the server");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        })
    }
}

impl Nats {
    /// Sends `job` (once: `cancel` holds this engine once it is sent) and waits for its
    /// result. The outer error is the server's (worth another try); the inner, the result's.
    async fn await_result(
        &self,
        job: &Job,
        cancel: &mut CancelOnDrop,
        trouble: &mut Option<tokio::time::Instant>,
    ) -> Result<Result<Done, RemoteError>, RemoteError> {
        let key = &job.key;
        // Watching first, a result written from now on is seen; read next, one written
        // before is too.
        let mut watch = self
            .bounded("watch a result", self.inner.results.watch_with_history(key))
            .await?;
        *trouble = None;
        if let Some(done) = self.result(key).await? {
            return Ok(Ok(done));
        }
        if cancel.nats.is_none() {
            let payload = serde_json::to_vec(job).map_err(|e| self.error("send a job", e));
            let payload = match payload {
                Ok(payload) => payload,
                Err(e) => return Ok(Err(e)),
            };
            // Sent again after a failure, it has the same message id: the server keeps one.
            let publish = PublishMessage::build()
                .payload(payload.into())
                .message_id(key);
            let ack = self
                .bounded(
                    "send a job",
                    self.inner
                        .jetstream
                        .send_publish(self.jobs_subject(), publish),
                )
                .await?;
            self.bounded("send a job", ack.into_future()).await?;
            // From here on, dropped unfinished, the job is given up.
            cancel.nats = Some(self.clone());
        }
        while let Some(entry) = watch.next().await {
            let entry = entry.map_err(|e| self.error("watch a result", e))?;
            if entry.operation == Operation::Put {
                return Ok(decode(&entry.value));
            }
        }
        Err(self.error("watch a result", "the server ended the watch"))
    }
}

/// Gives a job up when its dispatch is dropped unfinished: keeps `Cancelled` as its result
/// (unless a worker's result is kept first) and tells a worker running it to stop.
struct CancelOnDrop {
    nats: Option<Nats>,
    key: String,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(nats) = self.nats.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        runtime.spawn(async move {
            let cancelled = Done {
                worker: String::new(),
                outcome: Outcome::Cancelled,
                spent: None,
            };
            if let Err(e) = nats.keep(&key, &cancelled).await {
                tracing::warn!(key, error = %e, "a job given up could not be marked so");
            }
            let subject = nats.cancel_subject(&key);
            if let Err(e) = nats
                .inner
                .client
                .publish(subject, bytes::Bytes::new())
                .await
            {
                tracing::warn!(key, error = %e, "a job given up: its worker could not be told");
            }
        });
    }
}

/// The consumer every worker of the engine's queue pulls from.
async fn consumer(nats: &Nats) -> Result<consumer::PullConsumer, RemoteError> {
    let config = &nats.inner.config;
    let queue = &config.queue;
    let consumer = nats.inner.jobs.get_or_create_consumer(
        queue,
        consumer::pull::Config {
            durable_name: Some(queue.clone()),
            filter_subject: nats.jobs_subject(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: config.redeliver_after,
            // Unlimited: a worker fails a job delivered too often itself, with an error the
            // coordinator sees, rather than the server dropping it silently.
            max_deliver: -1,
            num_replicas: config.replicas,
            ..Default::default()
        },
    );
    nats.bounded("make the queue's consumer", consumer).await
}
