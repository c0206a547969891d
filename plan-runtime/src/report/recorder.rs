//! [`Recorder`]: the [`Monitor`] that keeps what happened in a run and streams it as events.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::channel::mpsc;
use plan_core::{Ended, Monitor, NodeInfo, NodeKind, PlanError};
use tokio::time::Instant;

use super::event::{Event, EventKind, Events};
use super::record::{Barrier, NodeRecord, Outcome, RunReport, add_to};

/// Records one run: every node instance's start, end, attempts, outcome and time waited for
/// limits, and the barrier of every parallel group. Make one, run a plan with it
/// ([`Run::monitor`](crate::Run::monitor)), then take its [`RunReport`].
/// [`Recorder::with_events`] also streams what happens, live, for progress displays.
///
/// Times come from tokio's clock, so under a paused test clock they are exact virtual times.
/// A recorder is meant for one run. Runs that share one (even at once, on several threads)
/// add their nodes to the same report, each with its own root.
///
/// ```
/// use plan_runtime::prelude::*;
/// use plan_runtime::report::Recorder;
///
/// async fn fetch(n: u32) -> u32 { n * 2 }
/// let p = plan! { fetch >> fetch };
///
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// # rt.block_on(async {
/// let recorder = Recorder::new();
/// assert_eq!(p.run(1).monitor(&recorder).await.unwrap(), 4);
/// let report = recorder.into_report();
/// assert_eq!(report.nodes.len(), 3); // the plan and its two steps
/// # });
/// ```
#[derive(Debug, Default)]
pub struct Recorder {
    state: Mutex<State>,
}

thread_local! {
    /// The instances being polled on this thread, innermost last, with the address of the
    /// recorder each belongs to. A task is polled on one thread at a time and its polls nest,
    /// so this is exact even when runs that share a recorder are polled on several threads.
    static POLLING: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

#[derive(Debug, Default)]
struct State {
    /// When the first node started; times are measured from it.
    origin: Option<Instant>,
    nodes: Vec<Entry>,
    events: Option<mpsc::UnboundedSender<Event>>,
}

/// A node instance as it is being recorded.
#[derive(Debug)]
struct Entry {
    record: NodeRecord,
    /// The instance whose full path prefixes this node's: the step running the nested plan
    /// this node belongs to (`None` in the outermost plan).
    scope: Option<usize>,
    /// Set when the node's own deadline passed; cleared by a retry.
    deadline: Option<Duration>,
}

impl Recorder {
    /// A recorder that keeps a report.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// A recorder that also sends an [`Event`] for every start, retry and end, as they
    /// happen. The stream ends when the recorder is dropped (or turned into its report), so a
    /// progress display can simply run until the stream ends.
    ///
    /// Events are sent on an unbounded channel: a slow display never slows the plan down.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use plan_runtime::prelude::*;
    /// use plan_runtime::report::{EventKind, Outcome, Recorder};
    ///
    /// fn inc(n: u32) -> u32 { n + 1 }
    /// let p = plan! { inc };
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// # rt.block_on(async {
    /// let (recorder, events) = Recorder::with_events();
    /// p.run(1).monitor(&recorder).await.unwrap();
    /// drop(recorder);
    /// let kinds: Vec<_> = events.map(|e| (e.name, e.kind)).collect().await;
    /// assert_eq!(kinds[1], ("inc", EventKind::Started));
    /// assert_eq!(kinds[2], ("inc", EventKind::Finished { outcome: Outcome::Ok }));
    /// # });
    /// ```
    pub fn with_events() -> (Self, Events) {
        let (sender, receiver) = mpsc::unbounded();
        let recorder = Recorder::new();
        recorder.lock().events = Some(sender);
        (recorder, Events::new(receiver))
    }

    /// The report so far. Nodes that have not ended yet are [`Outcome::Running`].
    pub fn report(&self) -> RunReport {
        let state = self.lock();
        RunReport::new(state.nodes.iter().map(|e| e.record.clone()).collect())
    }

    /// The report, ending the event stream.
    pub fn into_report(self) -> RunReport {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        RunReport::new(state.nodes.into_iter().map(|e| e.record).collect())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held cannot leave the state half-updated: every update
        // below is a single push or field store.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This recorder's identity in [`POLLING`].
    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The instance of this recorder's run being polled on this thread, if one is: the id
    /// [`Monitor::start`] gave it. For a monitor of your own that wraps a recorder and keeps
    /// something of its own per instance (what a hook such as [`Monitor::count`] is about).
    ///
    /// ```
    /// use plan_runtime::report::Recorder;
    /// use plan_runtime::{Monitor, NodeInfo, NodeKind};
    ///
    /// static STEP: NodeInfo = NodeInfo::new("fetch", NodeKind::Step, "0");
    /// let recorder = Recorder::new();
    /// let id = recorder.start(&STEP);
    /// assert_eq!(recorder.polled(), None);
    /// recorder.enter(id);
    /// assert_eq!(recorder.polled(), Some(id));
    /// recorder.leave(id);
    /// assert_eq!(recorder.polled(), None);
    /// ```
    pub fn polled(&self) -> Option<usize> {
        self.current()
    }

    /// The instance of this recorder's run being polled on this thread.
    fn current(&self) -> Option<usize> {
        let key = self.key();
        POLLING.with_borrow(|polling| {
            polling
                .last()
                .filter(|&&(owner, _)| owner == key)
                .map(|&(_, id)| id)
        })
    }
}

impl State {
    fn now(&mut self) -> Duration {
        let now = Instant::now();
        now - *self.origin.get_or_insert(now)
    }

    fn send(&mut self, id: usize, at: Duration, kind: EventKind) {
        let Some(sender) = &self.events else { return };
        let record = &self.nodes[id].record;
        let event = Event {
            at,
            id,
            parent: record.parent,
            name: record.name,
            label: record.label(),
            node_kind: record.kind,
            path: record.path.clone(),
            kind,
        };
        if sender.unbounded_send(event).is_err() {
            // Nobody is listening any more; stop building events.
            self.events = None;
        }
    }
}

impl Monitor for Recorder {
    fn start(&self, node: &'static NodeInfo) -> usize {
        let parent = self.current();
        let mut state = self.lock();
        let at = state.now();
        // A nested plan's nodes are named below the step that runs it, as in errors.
        let scope = match parent {
            None => None,
            Some(p) if node.kind == NodeKind::Plan => Some(p),
            Some(p) => state.nodes[p].scope,
        };
        let path = match scope {
            None => Cow::Borrowed(node.path),
            Some(s) => join(&state.nodes[s].record.path, node.path),
        };
        let id = state.nodes.len();
        state.nodes.push(Entry {
            record: NodeRecord::started(id, parent, node, path, at),
            scope,
            deadline: None,
        });
        state.send(id, at, EventKind::Started);
        id
    }

    fn enter(&self, id: usize) {
        let key = self.key();
        POLLING.with_borrow_mut(|polling| polling.push((key, id)));
    }

    fn leave(&self, _id: usize) {
        POLLING.with_borrow_mut(|polling| polling.pop());
    }

    fn end(&self, id: usize, how: Ended<'_>) {
        let mut state = self.lock();
        let at = state.now();
        let entry = &mut state.nodes[id];
        if entry.record.end.is_some() {
            return;
        }
        let outcome = match how {
            Ended::Ok => Outcome::Ok,
            Ended::Err(PlanError::Timeout { after, .. }) if entry.deadline.is_some() => {
                Outcome::TimedOut { after: *after }
            }
            Ended::Err(err) => Outcome::Failed {
                error: err.kind(),
                message: err.to_string(),
            },
            Ended::Panicked => Outcome::Failed {
                error: "panicked",
                message: "a panic unwound through this node".to_owned(),
            },
            Ended::Dropped => Outcome::Cancelled,
        };
        entry.record.end = Some(at);
        entry.record.outcome = outcome.clone();
        state.send(id, at, EventKind::Finished { outcome });
    }

    fn retry(&self, attempt: u32, error: &PlanError) {
        let Some(id) = self.current() else { return };
        let mut state = self.lock();
        let at = state.now();
        let entry = &mut state.nodes[id];
        // The next attempt starts afresh: its own deadline, its own branches.
        entry.record.attempts = attempt + 1;
        entry.deadline = None;
        entry.record.barrier = None;
        let kind = EventKind::Retrying {
            attempt,
            error: error.to_string(),
        };
        state.send(id, at, kind);
    }

    fn deadline(&self, after: Duration) {
        let Some(id) = self.current() else { return };
        self.lock().nodes[id].deadline = Some(after);
    }

    fn branch_done(&self) {
        let Some(id) = self.current() else { return };
        let mut state = self.lock();
        let at = state.now();
        let barrier = state.nodes[id].record.barrier.get_or_insert(Barrier {
            branches_finished: 0,
            first_finished: at,
            last_finished: at,
            wait: Duration::ZERO,
        });
        barrier.branches_finished += 1;
        barrier.last_finished = at;
        barrier.wait = at - barrier.first_finished;
    }

    fn waited(&self, _on: &'static str, duration: Duration) {
        let Some(id) = self.current() else { return };
        self.lock().nodes[id].record.waited += duration;
    }

    fn count(&self, counter: &'static str, amount: f64) {
        let Some(id) = self.current() else { return };
        add_to(&mut self.lock().nodes[id].record.counters, counter, amount);
    }

    fn note(&self, key: &'static str, value: &str) {
        let Some(id) = self.current() else { return };
        let notes = &mut self.lock().nodes[id].record.notes;
        match notes.iter_mut().find(|(name, _)| *name == key) {
            Some((_, old)) => value.clone_into(old),
            None => notes.push((key, value.to_owned())),
        }
    }
}

/// `scope/path`, either side possibly empty.
fn join(scope: &str, path: &'static str) -> Cow<'static, str> {
    match (scope.is_empty(), path.is_empty()) {
        (true, _) => Cow::Borrowed(path),
        (false, true) => Cow::Owned(scope.to_owned()),
        (false, false) => Cow::Owned(format!("{scope}/{path}")),
    }
}
