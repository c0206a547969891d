//! Durable plan runs: a run started with an id and a store journals the output of each of its
//! `#[durable]` nodes as it finishes; run again after a crash, it replays those outputs and
//! continues from there; run once it has finished, it returns its result and runs nothing.

use std::sync::Arc;

mod start;

use plan_runtime::budget::{Budget, CHECKPOINT, Spent};
use plan_runtime::{Journal, Plan, PlanError, PlanExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::{RunKeys, RunRecord, Stage, StoreJournal, fingerprint};
use crate::sanitize::Sanitize;
use crate::store::{Store, StoreError, Versioned};
use crate::wait::{Question, Waits};

pub use start::DurableRun;
use start::{Given, Step};

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
/// A run given a [`Budget`] (`.with(&budget)`, or in its [`Options`](plan_runtime::run::Options))
/// journals what the budget has spent before each output and when the attempt ends, and
/// an attempt that continues a run [restores](Budget::restore) it first: a crash or a second
/// attempt never refills the budget, and a run its budget refused is refused again.
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
pub enum RunStatus<T> {
    /// It finished with this output.
    Done(T),
    /// It is paused until the question is answered with [`Runs::resume`].
    Waiting(Question),
}

impl<T> RunStatus<T> {
    /// The output, if the run finished.
    pub fn done(self) -> Option<T> {
        match self {
            RunStatus::Done(output) => Some(output),
            RunStatus::Waiting(_) => None,
        }
    }

    /// The question, if the run is waiting.
    pub fn waiting(self) -> Option<Question> {
        match self {
            RunStatus::Done(_) => None,
            RunStatus::Waiting(question) => Some(question),
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
        /// What was being written or read: `"input"`, `"result"`, `"answer"`, `"record"`, `"budget"`.
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

    /// The run `id` of `plan` on `input`, to start or continue (see [`Runs`]): give it a
    /// context, values for the tools inside or [`Options`](plan_runtime::run::Options), then await it.
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    /// use plan_state::runs::Runs;
    /// use plan_state::store::InMemory;
    ///
    /// struct Config { greeting: &'static str }
    /// fn greet(name: String, cfg: &Config) -> String { format!("{} {name}", cfg.greeting) }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let plan = plan! { #[durable] greet };
    /// let runs = Runs::new(InMemory::new());
    /// let cfg = Config { greeting: "hello" };
    /// let out = runs.run(&plan, "r", "ada".to_owned()).ctx(&cfg).await.unwrap();
    /// assert_eq!(out.done().unwrap(), "hello ada");
    /// # });
    /// ```
    pub fn run<'a, P: ?Sized, I, O>(
        &'a self,
        plan: &'a P,
        id: &'a str,
        input: I,
    ) -> DurableRun<'a, S, P, I, (), O> {
        DurableRun::new(self, plan, id, Step::Start(input))
    }

    /// The run `id`, waiting for an answer: answers the question the run `id` is waiting on, and continues it on its recorded
    /// input. An answer that is not what the asking step takes leaves the run waiting, with
    /// the reason in [`Question::refused`].
    pub fn resume<'a, P: ?Sized, I, O>(
        &'a self,
        plan: &'a P,
        id: &'a str,
        answer: impl Serialize,
    ) -> DurableRun<'a, S, P, I, (), O> {
        DurableRun::new(self, plan, id, Step::Resume(serde_json::to_value(answer)))
    }

    /// Starts or continues the run (see [`Runs::run`]).
    async fn start<I, C, P>(
        &self,
        plan: &P,
        id: &str,
        input: I,
        ctx: &C,
        given: &Given<'_>,
    ) -> Result<RunStatus<P::Out>, RunError>
    where
        I: Serialize + DeserializeOwned + Send,
        C: Sync,
        P: Plan<I, C> + ?Sized,
        P::Out: Serialize + DeserializeOwned,
    {
        let run = Attempt::new(self, id, plan)?;
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
        run.go(plan, record, version, Some(input), ctx, given).await
    }

    /// Answers the question the run is waiting on and continues it (see [`Runs::resume`]).
    async fn answer<I, C, P>(
        &self,
        plan: &P,
        id: &str,
        answer: Result<serde_json::Value, serde_json::Error>,
        ctx: &C,
        given: &Given<'_>,
    ) -> Result<RunStatus<P::Out>, RunError>
    where
        I: Serialize + DeserializeOwned + Send,
        C: Sync,
        P: Plan<I, C> + ?Sized,
        P::Out: Serialize + DeserializeOwned,
    {
        let run = Attempt::new(self, id, plan)?;
        let answer = answer.map_err(|e| run.json("answer", e))?;
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
        run.go(plan, record, version, None, ctx, given).await
    }
}

/// One attempt at one run.
struct Attempt<'r, S> {
    runs: &'r Runs<S>,
    id: &'r str,
    keys: RunKeys,
    /// The fingerprint of the plan running it, made once per attempt (it walks the graph).
    plan: String,
}

impl<'r, S: Store + 'static> Attempt<'r, S> {
    fn new(
        runs: &'r Runs<S>,
        id: &'r str,
        plan: &(impl plan_runtime::Describe + ?Sized),
    ) -> Result<Self, RunError> {
        let bad = || RunError::BadRunId { id: id.to_owned() };
        if id.contains('/') {
            return Err(bad());
        }
        let keys = RunKeys::new(id).map_err(|_| bad())?;
        Ok(Attempt {
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
        given: &Given<'_>,
    ) -> Result<RunStatus<P::Out>, RunError>
    where
        I: DeserializeOwned + Send,
        C: Sync,
        P: Plan<I, C> + ?Sized,
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
                return Ok(RunStatus::Done(result));
            }
            Stage::Waiting { question } => return Ok(RunStatus::Waiting(question)),
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
        let journal = Arc::new(journal);
        // The budget this run spends from: what an options value gives shadows a `.with`.
        let budget = given
            .options
            .and_then(|options| options.get::<Budget>())
            .or_else(|| given.extensions.get::<Budget>());
        if let Some(budget) = budget {
            self.restore(&journal, budget).await?;
        }
        let waits = Waits::default();
        let mut run = plan.run(input).ctx(ctx).extensions(&given.extensions);
        if let Some(options) = given.options {
            run = run.options(options);
        }
        if let Some(monitor) = given.monitor {
            run = run.monitor(monitor);
        }
        // Durable nodes find the journal as an `Arc<dyn Journal>`.
        let erased: Arc<dyn Journal> = journal.clone();
        let ended = run.with(&erased).with(&waits).await;
        // Whatever the end, what was spent stays spent: a run refused by its budget is
        // refused again when it is run again.
        if let Some(budget) = budget {
            self.checkpoint(&journal, budget).await?;
        }
        // A question asked in a branch that the plan did without (a `par(first)` it lost)
        // does not hold up a plan that finished.
        let (stage, outcome) = match (ended, waits.take()) {
            (Ok(output), _) => {
                let result = serde_json::to_value(&output).map_err(|e| self.json("result", e))?;
                let result = self.runs.clean(result);
                (Stage::Done { result }, RunStatus::Done(output))
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
                    RunStatus::Waiting(question),
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

    /// Counts what earlier attempts of the run spent from its budget (see
    /// [`Budget::restore`]).
    async fn restore(&self, journal: &StoreJournal<S>, budget: &Budget) -> Result<(), RunError> {
        let saved = journal
            .read_checkpoint(CHECKPOINT)
            .await
            .map_err(|e| self.store(e))?;
        if let Some(saved) = saved {
            let spent: Spent = serde_json::from_value(saved).map_err(|e| self.json("budget", e))?;
            budget.restore(&spent);
        }
        Ok(())
    }

    /// Journals what the run's budget has spent.
    async fn checkpoint(&self, journal: &StoreJournal<S>, budget: &Budget) -> Result<(), RunError> {
        let spent = serde_json::to_value(budget.spent()).map_err(|e| self.json("budget", e))?;
        journal
            .save_checkpoint(CHECKPOINT, &spent)
            .await
            .map_err(|e| self.store(e))
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
