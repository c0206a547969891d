//! [`Watch`]: one run on a [`RunBoard`](super::RunBoard), the [`Monitor`] it is run with.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use plan_runtime::budget::{Budget, Spent};
use plan_runtime::report::{Events, Outcome, Recorder, RunReport};
use plan_runtime::{Ended, Monitor, NodeInfo, PlanError};
use plan_state::wait::Question;
use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot};

use super::form::Form;

/// One run shown by the studio: the [`Monitor`] to run its plan with
/// ([`Run::monitor`](plan_runtime::Run::monitor), or a durable run's), made by
/// [`RunBoard::watch`](super::RunBoard::watch). It records the run as a
/// [`Recorder`] does (so its report and Chrome trace can be downloaded), sends each node's
/// start, retry and end, each wait, count and note (a policy's ranking, say) and each
/// deadline that passed to the board's subscribers as it happens, holds the question of a
/// durable run waiting for a person ([`Watch::ask`]), and shows what the run's budget has
/// spent ([`Watch::budget`]).
///
/// A durable run resumed with the same watch adds its nodes to the same report, under a
/// root of its own, and the page shows it going on.
pub struct Watch {
    id: u64,
    name: String,
    graph: Value,
    started_ms: u64,
    recorder: Recorder,
    /// The recorder's events, taken as each hook returns (they are sent synchronously).
    events: Mutex<Events>,
    board: broadcast::Sender<Value>,
    question: Mutex<Option<Pending>>,
    /// The instances whose own deadline passed, and when: a report keeps only the outcome
    /// (a `settled` group cut off by its deadline still ends ok).
    deadlines: Mutex<Vec<(usize, Duration)>>,
    budget: Mutex<Option<Shown>>,
}

/// The budget a run spends from, and what the page was last told it had spent.
struct Shown {
    budget: Arc<Budget>,
    sent: Spent,
}

/// A question waiting for its answer.
struct Pending {
    question: Question,
    form: Form,
    answer: oneshot::Sender<Value>,
}

/// What a run is doing: `running`, `waiting` (for an answer), `done` or `failed`.
pub(super) fn status_of(report: &RunReport, waiting: bool) -> &'static str {
    if waiting {
        return "waiting";
    }
    // The latest root: a resumed durable run adds one.
    let root = report.nodes.iter().rev().find(|node| node.parent.is_none());
    match root.map(|root| &root.outcome) {
        None | Some(Outcome::Running) => "running",
        Some(Outcome::Ok) => "done",
        Some(_) => "failed",
    }
}

impl Watch {
    pub(super) fn new(
        id: u64,
        name: String,
        graph: Value,
        started_ms: u64,
        board: broadcast::Sender<Value>,
    ) -> Self {
        let (recorder, events) = Recorder::with_events();
        Watch {
            id,
            name,
            graph,
            started_ms,
            recorder,
            events: Mutex::new(events),
            board,
            question: Mutex::new(None),
            deadlines: Mutex::new(Vec::new()),
            budget: Mutex::new(None),
        }
    }

    /// Its number on the board.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its name, as given to [`RunBoard::watch`](super::RunBoard::watch).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The run's report so far (nodes still running are [`Outcome::Running`]).
    pub fn report(&self) -> RunReport {
        self.recorder.report()
    }

    /// Shows `question` (a durable run's, from
    /// [`RunStatus::Waiting`](plan_state::runs::RunStatus)) with `form` for its answer, and
    /// waits for a person to answer it on the page (or over the API, method `answer`). The
    /// answer is an object with the form's fields, checked against it; resume the run with it
    /// ([`Runs::resume`](plan_state::runs::Runs::resume), with this watch as its monitor).
    ///
    /// `None` if another question replaced this one before it was answered.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use plan_agents::control::{Form, RunBoard};
    /// use plan_runtime::prelude::*;
    /// use plan_state::runs::{RunStatus, Runs};
    /// use plan_state::store::InMemory;
    /// use plan_state::wait::ask;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Verdict { approved: bool }
    ///
    /// fn draft(topic: String) -> String { format!("a post about {topic}") }
    /// fn publish(verdict: Verdict) -> String {
    ///     if verdict.approved { "published".into() } else { "shelved".into() }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let plan = plan! { draft >> #[name = "approve"] (ask::<Verdict>()) >> publish };
    /// let board = RunBoard::new();
    /// let watch = board.watch("post", &plan);
    /// let runs = Runs::new(InMemory::new());
    /// let status = runs.run(&plan, "post-1", "plans".to_owned()).monitor(&*watch).await?;
    /// let RunStatus::Waiting(question) = status else { panic!("it asks") };
    ///
    /// let form = Form::new().yes_no("approved", "Publish it?");
    /// let answering = watch.ask(&question, form);
    /// // A person answers on the page; here, the API's method does.
    /// board.answer(watch.id(), serde_json::json!({ "approved": true }))?;
    /// let verdict: Verdict = serde_json::from_value(answering.await.unwrap())?;
    /// let done = runs.resume(&plan, "post-1", verdict).monitor(&*watch).await?;
    /// assert_eq!(done.done().as_deref(), Some("published"));
    /// assert_eq!(board.status(watch.id()), Some("done"));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn ask(
        &self,
        question: &Question,
        form: Form,
    ) -> impl Future<Output = Option<Value>> + Send + 'static {
        let (sender, receiver) = oneshot::channel();
        *self.pending() = Some(Pending {
            question: question.clone(),
            form,
            answer: sender,
        });
        self.send(json!({ "event": "question", "node": question.node }));
        async move { receiver.await.ok() }
    }

    /// Shows what `budget` — the budget the run spends from
    /// ([`Run::with`](plan_runtime::Run::with)) — has spent, against each of its limits (its
    /// wall time too, [`Budget::wall_time`]), in
    /// the run's totals, updated as the run's nodes count what they spend and end.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use plan_agents::control::RunBoard;
    /// use plan_runtime::budget::{Budget, Charge};
    /// use plan_runtime::prelude::*;
    ///
    /// fn double(x: u32) -> u32 { x * 2 }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let board = RunBoard::new();
    /// let plan = plan! { double };
    /// let budget = Arc::new(Budget::new().requests(10));
    /// let watch = board.watch("doubling", &plan);
    /// watch.budget(budget.clone());
    /// // A tool inside the run spends from it; here, the test does.
    /// budget.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// assert_eq!(plan.run(1).with(&*budget).monitor(&*watch).await?, 2);
    /// # Ok::<_, plan_runtime::PlanError>(())
    /// # }).unwrap();
    /// ```
    pub fn budget(&self, budget: Arc<Budget>) {
        let sent = budget.spent();
        *self.shown() = Some(Shown { budget, sent });
    }

    /// Hands `answer` to whoever asked, if it fits the form.
    pub(super) fn answer(&self, answer: Value) -> Result<(), AnswerError> {
        let mut pending = self.pending();
        let Some(asked) = pending.as_ref() else {
            return Err(AnswerError::NoQuestion(self.id));
        };
        asked
            .form
            .check(&answer)
            .map_err(|why| AnswerError::Bad { run: self.id, why })?;
        let asked = pending.take().expect("checked above");
        drop(pending);
        // Whoever asked may have gone (the program is stopping): nothing then waits for it.
        let _ = asked.answer.send(answer);
        self.send(json!({ "event": "answered", "node": asked.question.node }));
        Ok(())
    }

    /// Whether it waits for an answer.
    pub(super) fn waiting(&self) -> bool {
        self.pending().is_some()
    }

    /// The run's line in a list: its id, name, status and node counts.
    pub(super) fn summary(&self) -> Value {
        let report = self.report();
        let count = |what: &str| {
            report
                .nodes
                .iter()
                .filter(|n| n.outcome.as_str() == what)
                .count()
        };
        json!({
            "id": self.id,
            "name": self.name,
            "status": status_of(&report, self.waiting()),
            "started_ms": self.started_ms,
            "wall_us": micros(report.wall),
            "nodes": report.nodes.len(),
            "running": count("running"),
            "ok": count("ok"),
            "failed": count("failed") + count("timed out"),
            "cancelled": count("cancelled"),
        })
    }

    /// All of it: the summary, the plan's graph, the report, its critical path, its totals
    /// and the question, if it asks one.
    pub(super) fn detail(&self) -> Value {
        let report = self.report();
        let question = self.pending().as_ref().map(|asked| {
            json!({
                "node": asked.question.node,
                "question": asked.question.question,
                "refused": asked.question.refused,
                "form": asked.form,
            })
        });
        let totals: serde_json::Map<String, Value> = report
            .totals()
            .into_iter()
            .map(|(name, amount)| (name.to_owned(), json!(amount)))
            .collect();
        let deadlines: serde_json::Map<String, Value> = self
            .passed()
            .iter()
            .map(|(id, after)| (id.to_string(), json!(micros(*after))))
            .collect();
        let budget = self.shown().as_ref().map(|shown| spending(&shown.budget));
        json!({
            "run": self.summary(),
            "graph": self.graph,
            "report": report,
            "critical": super::critical::path(&report),
            "totals": totals,
            "deadlines": deadlines,
            "budget": budget,
            "question": question,
        })
    }

    /// Tells the page what the budget has spent, if that changed since it was last told (as
    /// its wall time always has, if it is limited).
    fn spent(&self) {
        let budget = {
            let mut shown = self.shown();
            let Some(shown) = shown.as_mut() else { return };
            let spent = shown.budget.spent();
            if spent == shown.sent && shown.budget.wall_time().is_none() {
                return;
            }
            shown.sent = spent;
            spending(&shown.budget)
        };
        self.send(json!({ "event": "budget", "budget": budget }));
    }

    fn passed(&self) -> MutexGuard<'_, Vec<(usize, Duration)>> {
        // Each critical section is a push, a removal or a copy.
        self.deadlines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shown(&self) -> MutexGuard<'_, Option<Shown>> {
        // Each critical section is a store or a comparison.
        self.budget.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending(&self) -> MutexGuard<'_, Option<Pending>> {
        // Each critical section is one store or take.
        self.question.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `event`, marked with this run, to the board's subscribers (if any).
    fn send(&self, mut event: Value) {
        event["run"] = json!(self.id);
        let _ = self.board.send(event);
    }

    /// Sends the recorder's events so far, in order. Called after every hook that makes one,
    /// under a lock, so that events of hooks on two threads keep the order they were made in.
    fn forward(&self) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(Some(event)) = events.next().now_or_never() {
            // A recorder's event always serializes (its fields are strings and numbers).
            if let Ok(event) = serde_json::to_value(&event) {
                self.send(event);
            }
        }
    }

    /// The instance of this run being polled on this thread (the recorder's ids are this
    /// watch's).
    fn current(&self) -> Option<usize> {
        self.recorder.polled()
    }
}

impl Monitor for Watch {
    fn start(&self, node: &'static NodeInfo) -> usize {
        let id = self.recorder.start(node);
        self.forward();
        id
    }

    fn enter(&self, id: usize) {
        self.recorder.enter(id);
    }

    fn leave(&self, id: usize) {
        self.recorder.leave(id);
    }

    fn end(&self, id: usize, how: Ended<'_>) {
        self.recorder.end(id, how);
        self.forward();
        self.spent();
    }

    fn retry(&self, attempt: u32, error: &PlanError) {
        self.recorder.retry(attempt, error);
        // The next attempt has a deadline of its own.
        if let Some(id) = self.current() {
            self.passed().retain(|&(passed, _)| passed != id);
        }
        self.forward();
    }

    fn deadline(&self, after: Duration) {
        self.recorder.deadline(after);
        if let Some(id) = self.current() {
            self.passed().push((id, after));
            self.send(json!({ "event": "deadline", "id": id, "after_us": micros(after) }));
        }
    }

    fn branch_done(&self) {
        self.recorder.branch_done();
    }

    fn waited(&self, on: &'static str, duration: Duration) {
        self.recorder.waited(on, duration);
        if let Some(id) = self.current() {
            self.send(json!({ "event": "waited", "id": id, "on": on, "us": micros(duration) }));
        }
    }

    fn count(&self, counter: &'static str, amount: f64) {
        self.recorder.count(counter, amount);
        if let Some(id) = self.current() {
            self.send(json!({ "event": "count", "id": id, "counter": counter, "amount": amount }));
        }
        self.spent();
    }

    fn note(&self, key: &'static str, value: &str) {
        self.recorder.note(key, value);
        if let Some(id) = self.current() {
            self.send(json!({ "event": "note", "id": id, "key": key, "value": value }));
        }
    }
}

/// What `budget` has spent against each of its limits (`null`: none), its wall time in
/// milliseconds among them, and how often the limits renew.
fn spending(budget: &Budget) -> Value {
    let (spent, limits) = (budget.spent(), budget.limits());
    let (wall, passed) = budget.wall_time().unzip();
    json!({
        "tokens": { "spent": spent.tokens, "limit": limits.tokens },
        "dollars": { "spent": spent.dollars, "limit": limits.dollars },
        "requests": { "spent": spent.requests, "limit": limits.requests },
        "wall_ms": { "spent": passed.map(millis), "limit": wall.map(millis) },
        "renews_every_ms": budget.renews_every().map(millis),
    })
}

/// A duration in whole milliseconds.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

/// Why an answer was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// No run of that number is on the board.
    #[error("there is no run {0} on the board")]
    NoRun(u64),
    /// The run asks nothing now.
    #[error("run {0} is not waiting for an answer")]
    NoQuestion(u64),
    /// The answer does not fit the question's form.
    #[error("the answer to run {run} does not fit its form: {why}")]
    Bad {
        /// The run.
        run: u64,
        /// What is wrong, naming the field.
        why: String,
    },
}

/// A duration in whole microseconds, as the report writes them.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
