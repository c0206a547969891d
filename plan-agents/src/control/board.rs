//! [`RunBoard`]: the runs the control API shows, and the channel of what happens in them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use plan_runtime::Describe;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::watch::{AnswerError, Watch, status_of};

/// How many events a subscriber may fall behind before it is told it lagged.
const EVENTS: usize = 1024;

/// The runs a [`Control`](super::Control) shows (its methods `runs`, `run`, `answer` and
/// `subscribe_runs`, its downloads, its page): register each with [`RunBoard::watch`] and
/// run it with the [`Watch`] that gives as its monitor. Clones share the board.
///
/// It keeps the last [`RunBoard::keep`] runs (64 by default); a newer one pushes out the
/// oldest that is not running or waiting (else the oldest).
///
/// ```
/// use plan_agents::control::RunBoard;
/// use plan_runtime::prelude::*;
///
/// fn double(x: u32) -> u32 { x * 2 }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let board = RunBoard::new();
/// let plan = plan! { double >> double };
/// let watch = board.watch("doubling", &plan);
/// assert_eq!(plan.run(1).monitor(&*watch).await?, 4);
/// assert_eq!(board.status(watch.id()), Some("done"));
/// assert_eq!(watch.report().find_all("double").count(), 2);
/// # Ok::<_, plan_runtime::PlanError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct RunBoard {
    shared: Arc<Shared>,
}

struct Shared {
    runs: Mutex<VecDeque<Arc<Watch>>>,
    keep: AtomicUsize,
    next: AtomicU64,
    events: broadcast::Sender<Value>,
}

impl RunBoard {
    /// A board with no runs.
    pub fn new() -> Self {
        RunBoard {
            shared: Arc::new(Shared {
                runs: Mutex::new(VecDeque::new()),
                keep: AtomicUsize::new(64),
                next: AtomicU64::new(1),
                events: broadcast::channel(EVENTS).0,
            }),
        }
    }

    /// Keeps the last `runs` runs (at least one).
    ///
    /// ```
    /// let board = plan_agents::control::RunBoard::new().keep(16);
    /// # let _ = board;
    /// ```
    pub fn keep(self, runs: usize) -> Self {
        self.shared.keep.store(runs.max(1), Ordering::Relaxed);
        self
    }

    /// Puts a run of `plan` named `name` on the board, with the plan's graph; run it with the
    /// returned [`Watch`] as its monitor (see [`Watch::ask`] for a durable run that waits for
    /// a person).
    pub fn watch<P: Describe + ?Sized>(&self, name: impl Into<String>, plan: &P) -> Arc<Watch> {
        let id = self.shared.next.fetch_add(1, Ordering::Relaxed);
        // A graph is names, numbers and strings: it always serializes.
        let graph = serde_json::to_value(plan.graph()).unwrap_or(Value::Null);
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        let name = name.into();
        let watch = Arc::new(Watch::new(
            id,
            name.clone(),
            graph,
            started_ms,
            self.shared.events.clone(),
        ));
        let keep = self.shared.keep.load(Ordering::Relaxed);
        let mut runs = self.runs();
        while runs.len() >= keep {
            let finished = runs
                .iter()
                .position(|run| !run.waiting() && status_of(&run.report(), false) != "running");
            runs.remove(finished.unwrap_or(0));
        }
        runs.push_back(watch.clone());
        drop(runs);
        let _ = self
            .shared
            .events
            .send(json!({ "event": "run", "run": id, "name": name }));
        watch
    }

    /// The run numbered `id`, if it is on the board.
    pub fn get(&self, id: u64) -> Option<Arc<Watch>> {
        self.runs().iter().find(|run| run.id() == id).cloned()
    }

    /// What run `id` is doing: `running`, `waiting` (for an answer), `done` or `failed`.
    pub fn status(&self, id: u64) -> Option<&'static str> {
        let run = self.get(id)?;
        Some(status_of(&run.report(), run.waiting()))
    }

    /// Answers the question run `id` waits on ([`Watch::ask`]), as a person does on the page.
    pub fn answer(&self, id: u64, answer: Value) -> Result<(), AnswerError> {
        self.get(id).ok_or(AnswerError::NoRun(id))?.answer(answer)
    }

    /// Every run's summary, oldest first.
    pub(super) fn list(&self) -> Vec<Value> {
        let runs: Vec<_> = self.runs().iter().cloned().collect();
        runs.iter().map(|run| run.summary()).collect()
    }

    /// A receiver of every run's events.
    pub(super) fn events(&self) -> broadcast::Receiver<Value> {
        self.shared.events.subscribe()
    }

    fn runs(&self) -> MutexGuard<'_, VecDeque<Arc<Watch>>> {
        // Each critical section is a push, a removal or a copy.
        self.shared
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for RunBoard {
    fn default() -> Self {
        RunBoard::new()
    }
}

impl std::fmt::Debug for RunBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunBoard")
            .field("runs", &self.runs().len())
            .finish_non_exhaustive()
    }
}
