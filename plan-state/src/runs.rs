//! Durable plan runs: a run started with an id and a store journals the output of each of its
//! `#[durable]` nodes as it finishes; run again after a crash, it replays those outputs and
//! continues from there; run once it has finished, it returns its result and runs nothing.

use std::sync::Arc;

use plan_runtime::{Extensions, Journal, Plan, PlanError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::{RunKeys, RunRecord, Stage, StoreJournal, fingerprint};
use crate::sanitize::Sanitize;
use crate::store::{Store, StoreError, Versioned};
use crate::wait::{Question, Waits};

/// Durable runs of plans, kept in a store.
///
/// [`Runs::run`] starts a run under an id, or continues it:
///
/// * a new id: the input is recorded before anything runs, then the plan runs, every
///   `#[durable]` node (or every step of a `#![durable]` plan) writing its output to the
///   journal as it finishes — parallel siblings each as they finish — before the plan goes on
///   with it;
/// * an id that did not finish (the process died, or the plan failed): the plan runs again on
///   the recorded input, and each durable node whose output is journaled returns it without
///   running. A node that was running when the process died recorded nothing and runs again:
///   durable nodes run at least once, and exactly once unless a crash interrupts them;
/// * a finished id: its recorded result, without running anything;
/// * an id waiting for an answer (see [`ask`](crate::wait::ask)): the question, again.
///
/// Journal keys are node paths, so a run continues only under the plan that started it (the
/// same nodes at the same paths); otherwise [`RunError::PlanChanged`]. Nodes that are not
/// durable run again on every attempt: mark the ones that are slow, costly or have effects.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use plan_runtime::prelude::*;
/// use plan_state::runs::Runs;
/// use plan_state::store::Sqlite;
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
/// fn search(topic: String) -> Vec<String> {
///     CALLS.fetch_add(1, Ordering::SeqCst);
///     vec![format!("{topic} paper")]
/// }
/// fn summarize(hits: Vec<String>) -> String { hits.join(", ") }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let plan = plan! { #[durable] search >> summarize };
/// let runs = Runs::new(Sqlite::open_in_memory().await.unwrap());
/// let first = runs.run(&plan, "r1", "rust".to_owned()).await.unwrap();
/// let again = runs.run(&plan, "r1", "rust".to_owned()).await.unwrap();
/// assert_eq!(first.done().unwrap(), "rust paper");
/// assert_eq!(again.done().unwrap(), "rust paper");
/// assert_eq!(CALLS.load(Ordering::SeqCst), 1); // the finished run ran nothing again
/// # });
/// ```
pub struct Runs<S> {
    store: Arc<S>,
    sanitize: Option<Arc<dyn Sanitize>>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<T> {
    /// It finished with this output.
    Done(T),
    /// It is paused until the question is answered with [`Runs::resume`].
    Waiting(Question),
}

impl<T> Outcome<T> {
    /// The output, if the run finished.
    pub fn done(self) -> Option<T> {
        match self {
            Outcome::Done(output) => Some(output),
            Outcome::Waiting(_) => None,
        }
    }

    /// The question, if the run is waiting.
    pub fn waiting(self) -> Option<Question> {
        match self {
            Outcome::Done(_) => None,
            Outcome::Waiting(question) => Some(question),
        }
    }
}

/// Why a durable run could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The id is not a valid run id.
    #[error("bad run id `{id}`: a run id is ASCII letters, digits and `_ - . :`")]
    BadRunId {
        /// The id, as given.
        id: String,
    },
    /// The plan failed. The run stays where it was: running it again continues from its
    /// journal.
    #[error("run `{id}` failed: {source}")]
    Failed {
        /// The run.
        id: String,
        /// How the plan failed.
        source: PlanError,
    },
    /// The store failed; nothing journaled before is lost.
    #[error("run `{id}`: {source}")]
    Store {
        /// The run.
        id: String,
        /// The store's error.
        source: StoreError,
    },
    /// The run was started by a plan with other nodes: its journal does not fit this one.
    #[error(
        "run `{id}` was started by another plan (its nodes differ): continue it with the plan that started it, or start a new run id"
    )]
    PlanChanged {
        /// The run.
        id: String,
    },
    /// The run was started with another input.
    #[error("run `{id}` was started with another input: {recorded}")]
    InputChanged {
        /// The run.
        id: String,
        /// The recorded input, as JSON.
        recorded: serde_json::Value,
    },
    /// A value could not be written as JSON, or a recorded one read back as its type.
    #[error("run `{id}`: the {what} {reason}")]
    Json {
        /// The run.
        id: String,
        /// What was being written or read: `"input"`, `"result"`, `"answer"`, `"record"`.
        what: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// [`Runs::resume`] on a run that is not waiting for an answer.
    #[error("run `{id}` is not waiting for an answer ({stage})")]
    NotWaiting {
        /// The run.
        id: String,
        /// Where it is: `"not started"`, `"running"` or `"done"`.
        stage: &'static str,
    },
    /// Another process changed the run's record while this one ran it.
    #[error("run `{id}` was changed by another process while this one ran it")]
    Concurrent {
        /// The run.
        id: String,
    },
}

impl<S: Store + 'static> Runs<S> {
    /// Durable runs kept in `store`.
    pub fn new(store: S) -> Self {
        Runs::shared(Arc::new(store))
    }

    /// Durable runs kept in a store shared with other users of it.
    pub fn shared(store: Arc<S>) -> Self {
        Runs {
            store,
            sanitize: None,
        }
    }

    /// These runs, with `sanitize` run over everything they persist — inputs, node outputs,
    /// questions, answers, results — before it is written (secrets redacted, sizes capped).
    /// What a later attempt replays is what was written: a redacted field comes back redacted,
    /// so redact only what the plan does not need again (or keep it out of durable outputs).
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    /// use plan_state::runs::Runs;
    /// use plan_state::sanitize::Redact;
    /// use plan_state::store::{Key, Sqlite, Store};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Login { user: String, token: String }
    /// fn login(user: String) -> Login { Login { user, token: "s3cret".into() } }
    /// fn greet(login: Login) -> String { format!("hello {}", login.user) }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let plan = plan! { #[durable] login >> greet };
    /// let runs = Runs::new(Sqlite::open_in_memory().await.unwrap()).sanitize(Redact::fields(["token"]));
    /// assert_eq!(runs.run(&plan, "r", "ada".to_owned()).await.unwrap().done().unwrap(), "hello ada");
    /// let entry = &runs.store().keys("runs/r/nodes/").await.unwrap()[0];
    /// let journaled = runs.store().get(entry).await.unwrap().unwrap().value;
    /// assert_eq!(journaled["token"], "[redacted]");
    /// # });
    /// ```
    pub fn sanitize(self, sanitize: impl Sanitize + 'static) -> Self {
        Runs {
            sanitize: Some(Arc::new(sanitize)),
            ..self
        }
    }

    /// `value` as it is persisted.
    fn clean(&self, mut value: serde_json::Value) -> serde_json::Value {
        if let Some(sanitize) = &self.sanitize {
            sanitize.sanitize(&mut value);
        }
        value
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Starts the run `id` of `plan` on `input`, or continues it (see [`Runs`]).
    pub async fn run<I, P>(&self, plan: &P, id: &str, input: I) -> Result<Outcome<P::Out>, RunError>
    where
        I: Serialize + DeserializeOwned + Send,
        P: Plan<I>,
        P::Out: Serialize + DeserializeOwned,
    {
        self.run_with(plan, id, input, &()).await
    }

    /// [`Runs::run`] for a plan whose steps take a context `&C`.
    pub async fn run_with<I, C, P>(
        &self,
        plan: &P,
        id: &str,
        input: I,
        ctx: &C,
    ) -> Result<Outcome<P::Out>, RunError>
    where
        I: Serialize + DeserializeOwned + Send,
        C: Sync,
        P: Plan<I, C>,
        P::Out: Serialize + DeserializeOwned,
    {
        let run = Run::new(self, id, plan)?;
        let json = serde_json::to_value(&input).map_err(|e| run.json("input", e))?;
        let json = self.clean(json);
        let (record, version) = match run.read().await? {
            Some(found) => found,
            None => run.start(json.clone()).await?,
        };
        if record.input != json {
            return Err(RunError::InputChanged {
                id: id.to_owned(),
                recorded: record.input,
            });
        }
        run.go(plan, record, version, Some(input), ctx).await
    }

    /// Answers the question the run `id` is waiting on, and continues it on its recorded
    /// input. An answer that is not what the asking step takes leaves the run waiting, with
    /// the reason in [`Question::refused`].
    pub async fn resume<I, P>(
        &self,
        plan: &P,
        id: &str,
        answer: impl Serialize,
    ) -> Result<Outcome<P::Out>, RunError>
    where
        I: Serialize + DeserializeOwned + Send,
        P: Plan<I>,
        P::Out: Serialize + DeserializeOwned,
    {
        self.resume_with(plan, id, answer, &()).await
    }

    /// [`Runs::resume`] for a plan whose steps take a context `&C`.
    pub async fn resume_with<I, C, P>(
        &self,
        plan: &P,
        id: &str,
        answer: impl Serialize,
        ctx: &C,
    ) -> Result<Outcome<P::Out>, RunError>
    where
        I: Serialize + DeserializeOwned + Send,
        C: Sync,
        P: Plan<I, C>,
        P::Out: Serialize + DeserializeOwned,
    {
        let run = Run::new(self, id, plan)?;
        let answer = serde_json::to_value(answer).map_err(|e| run.json("answer", e))?;
        let answer = self.clean(answer);
        let Some((mut record, version)) = run.read().await? else {
            return Err(run.not_waiting("not started"));
        };
        let question = match record.stage {
            Stage::Waiting { question } => question,
            Stage::Running => return Err(run.not_waiting("running")),
            Stage::Done { .. } => return Err(run.not_waiting("done")),
        };
        let key = run.keys.node(&question.entry).map_err(|e| run.store(e))?;
        self.store
            .put(&key, &answer)
            .await
            .map_err(|e| run.store(e))?;
        record.stage = Stage::Running;
        let version = run.save(&record, version).await?;
        run.go(plan, record, version, None, ctx).await
    }
}

/// One attempt at one run.
struct Run<'r, S> {
    runs: &'r Runs<S>,
    id: &'r str,
    keys: RunKeys,
    /// The fingerprint of the plan running it, made once per attempt (it walks the graph).
    plan: String,
}

impl<'r, S: Store + 'static> Run<'r, S> {
    fn new(
        runs: &'r Runs<S>,
        id: &'r str,
        plan: &impl plan_runtime::Describe,
    ) -> Result<Self, RunError> {
        let bad = || RunError::BadRunId { id: id.to_owned() };
        if id.contains('/') {
            return Err(bad());
        }
        let keys = RunKeys::new(id).map_err(|_| bad())?;
        Ok(Run {
            runs,
            id,
            keys,
            plan: fingerprint(plan),
        })
    }

    /// The run's record and its version, if the run exists.
    async fn read(&self) -> Result<Option<(RunRecord, u64)>, RunError> {
        let Some(Versioned { value, version }) = self
            .runs
            .store
            .get(&self.keys.record)
            .await
            .map_err(|e| self.store(e))?
        else {
            return Ok(None);
        };
        let record = serde_json::from_value(value).map_err(|e| self.json("record", e))?;
        Ok(Some((record, version)))
    }

    /// Records a new run on `input`, before anything runs.
    async fn start(&self, input: serde_json::Value) -> Result<(RunRecord, u64), RunError> {
        let record = RunRecord {
            plan: self.plan.clone(),
            input,
            stage: Stage::Running,
        };
        let version = self.save(&record, 0).await?;
        Ok((record, version))
    }

    /// Writes `record` over version `version` (0: over nothing).
    async fn save(&self, record: &RunRecord, version: u64) -> Result<u64, RunError> {
        let value = serde_json::to_value(record).map_err(|e| self.json("record", e))?;
        let expected = (version > 0).then_some(version);
        self.runs
            .store
            .compare_and_set(&self.keys.record, expected, &value)
            .await
            .map_err(|e| self.store(e))?
            .map_err(|_| RunError::Concurrent {
                id: self.id.to_owned(),
            })
    }

    /// Runs the plan from where `record` says the run is.
    async fn go<I, C, P>(
        &self,
        plan: &P,
        mut record: RunRecord,
        version: u64,
        input: Option<I>,
        ctx: &C,
    ) -> Result<Outcome<P::Out>, RunError>
    where
        I: DeserializeOwned + Send,
        C: Sync,
        P: Plan<I, C>,
        P::Out: Serialize + DeserializeOwned,
    {
        if record.plan != self.plan {
            return Err(RunError::PlanChanged {
                id: self.id.to_owned(),
            });
        }
        match record.stage {
            Stage::Done { result } => {
                let result = serde_json::from_value(result).map_err(|e| self.json("result", e))?;
                return Ok(Outcome::Done(result));
            }
            Stage::Waiting { question } => return Ok(Outcome::Waiting(question)),
            Stage::Running => {}
        }
        let input = match input {
            Some(input) => input,
            None => {
                serde_json::from_value(record.input.clone()).map_err(|e| self.json("input", e))?
            }
        };
        let journal = StoreJournal::load(
            self.runs.store.clone(),
            self.keys.clone(),
            self.runs.sanitize.clone(),
        )
        .await
        .map_err(|e| self.store(e))?;
        tracing::debug!(run = self.id, replayable = journal.len(), "durable run");
        let journal: Arc<dyn Journal> = Arc::new(journal);
        let waits = Waits::default();
        let extensions = Extensions::new().with(&journal).with(&waits);
        let ended = plan.run_extended(input, ctx, &extensions).await;
        // A question asked in a branch that the plan did without (a `par(first)` it lost)
        // does not hold up a plan that finished.
        let (stage, outcome) = match (ended, waits.take()) {
            (Ok(output), _) => {
                let result = serde_json::to_value(&output).map_err(|e| self.json("result", e))?;
                let result = self.runs.clean(result);
                (Stage::Done { result }, Outcome::Done(output))
            }
            (Err(_), Some(question)) => {
                let persisted = Question {
                    question: self.runs.clean(question.question.clone()),
                    ..question.clone()
                };
                (
                    Stage::Waiting {
                        question: persisted,
                    },
                    Outcome::Waiting(question),
                )
            }
            (Err(source), None) => {
                return Err(RunError::Failed {
                    id: self.id.to_owned(),
                    source,
                });
            }
        };
        record.stage = stage;
        self.save(&record, version).await?;
        Ok(outcome)
    }

    fn store(&self, source: StoreError) -> RunError {
        RunError::Store {
            id: self.id.to_owned(),
            source,
        }
    }

    fn json(&self, what: &'static str, error: serde_json::Error) -> RunError {
        RunError::Json {
            id: self.id.to_owned(),
            what,
            reason: error.to_string(),
        }
    }

    fn not_waiting(&self, stage: &'static str) -> RunError {
        RunError::NotWaiting {
            id: self.id.to_owned(),
            stage,
        }
    }
}
