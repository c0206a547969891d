//! The machinery behind [`Agents`](super::Agents): each agent's record under a lock of its
//! own, written to the store on every change, and the tasks it spawns.
//!
//! Every change to an agent goes the same way ([`Inner::settle`]): change the record, pick
//! the tasks that may start (counting their attempts), write the record, and only then spawn
//! them, re-arm the agent's timer and announce a change of state. A task is therefore never
//! running unless the store says so, and a restart finds every attempt that a crash cut off.
//! A change that cannot be written is undone where a caller asked for it (and told it
//! failed), and written again later where it is the outcome of a turn.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use plan_runtime::budget::Budget;
use plan_state::store::{Expect, Store};
use tokio::sync::{Notify, broadcast};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::active::Active;
use super::alarm::Alarm;
use super::census::Census;
use super::clock::Clock;
use super::kind::Handler;
use super::lease::Leases;
use super::record::{self, DeadTask, Record, Spending, Status};
use super::residency::Unloaded;
use super::{
    AgentEvent, AgentLimits, AgentStatus, SessionError, Sleep, State, Task, TaskSpec, Turn, Wake,
};
use crate::bus::Name;
use crate::echo;

/// The agents of one [`Agents`](super::Agents).
pub(crate) struct Inner<S> {
    pub store: Arc<S>,
    pub kinds: BTreeMap<String, Arc<dyn Handler>>,
    pub limits: AgentLimits,
    pub clock: Clock,
    pub(super) agents: Mutex<BTreeMap<String, Arc<Slot>>>,
    /// The agents out of memory, each with what is kept of it
    /// ([`Builder::unload_idle_after`](super::Builder::unload_idle_after)). Locked after
    /// `agents` when both are.
    pub(super) unloaded: Mutex<HashMap<String, Unloaded>>,
    /// How long an agent is idle before it leaves memory, if it ever does.
    pub(super) unload_after: Option<Duration>,
    /// The task that unloads idle agents, if they are.
    pub(super) sweeper: Mutex<Option<AbortHandle>>,
    /// How many agents there are, in all and by kind, against the limits.
    pub census: Mutex<Census>,
    active: Mutex<Active>,
    /// Which agents sleep on each event.
    sleepers: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Agents sleeping until there is room, in the order they fell asleep, each with the
    /// count of running tasks it wakes below.
    room: Mutex<VecDeque<(String, usize)>>,
    /// Tasks running, over all agents.
    running_tasks: AtomicUsize,
    events: broadcast::Sender<AgentEvent>,
    /// Set by [`Inner::shutdown`]: nothing more starts or is written.
    pub(super) closed: AtomicBool,
    /// The leases of the agents this process owns, when it shares them with others.
    pub leases: Option<Leases>,
}

/// One agent.
pub(crate) struct Slot {
    pub name: String,
    pub kind: String,
    pub agent: tokio::sync::Mutex<Agent>,
    /// Told whenever the agent's queue shrinks, for senders waiting for room.
    pub room: Notify,
    /// Set once the agent is this process's no more (its lease was lost): nothing of it
    /// runs, and its timer is not armed again.
    pub gone: AtomicBool,
}

impl Slot {
    /// An agent, not yet among the others.
    pub fn new(name: &str, record: Record, version: Option<u64>) -> Arc<Slot> {
        Slot::with(name, Agent::new(record, version))
    }

    /// An agent, not yet among the others.
    pub fn with(name: &str, agent: Agent) -> Arc<Slot> {
        Arc::new(Slot {
            name: name.to_owned(),
            kind: agent.record.kind.clone(),
            agent: tokio::sync::Mutex::new(agent),
            room: Notify::new(),
            gone: AtomicBool::new(false),
        })
    }
}

/// An agent's record and what runs for it.
pub(crate) struct Agent {
    pub record: Record,
    /// The record's version in the store (`None`: not written yet).
    version: Option<u64>,
    pub(super) running: HashMap<u64, AbortHandle>,
    pub(super) holds_active: bool,
    /// The agent's timer.
    pub(super) alarm: Option<Alarm>,
    /// How many timers it has had: a timer that fires knows whether it is the current one.
    pub(super) alarms: u64,
    /// Writes of the record that failed in a row since the last that did not; while there
    /// are any, the timer tries again.
    pub(super) unsaved: u32,
    /// Tasks that run alone, because another turn changed the state under them.
    solo: HashSet<u64>,
    /// When the record last changed in this process (ms since the epoch): how long the
    /// agent has been idle, if it is.
    pub(super) changed_ms: Option<u64>,
    /// The state last announced.
    pub(super) shown: State,
    /// How many turns changed the state: a turn that started before another changed it
    /// does not overwrite that change.
    changes: u64,
    pub(super) stats: Stats,
    /// The agent's own budget, once it has run in this process (if its kind gives one).
    budget: Option<Arc<Budget>>,
}

/// What an agent did since the process started.
#[derive(Default)]
pub(super) struct Stats {
    done: u64,
    pub failed: u64,
    pub dead: u64,
    last_ms: Option<u64>,
    max_ms: Option<u64>,
    last_error: Option<String>,
}

/// What a turn came back with.
type Outcome = Result<Turn<serde_json::Value>, String>;

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a few map operations that cannot leave the map half-changed.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Agent {
    pub fn new(record: Record, version: Option<u64>) -> Self {
        let mut agent = Agent {
            record,
            version,
            running: HashMap::new(),
            holds_active: false,
            alarm: None,
            alarms: 0,
            unsaved: 0,
            solo: HashSet::new(),
            changed_ms: None,
            shown: State::Idle,
            changes: 0,
            stats: Stats::default(),
            budget: None,
        };
        agent.shown = agent.state();
        agent
    }

    pub fn state(&self) -> State {
        match self.record.status {
            Status::Stopped => State::Stopped,
            Status::Sleeping { .. } => State::Sleeping,
            Status::Awake if !self.running.is_empty() => State::Active,
            Status::Awake if self.record.queued() > 0 => State::Waiting,
            Status::Awake => State::Idle,
        }
    }

    pub fn status(&self, name: &str) -> AgentStatus {
        let (wake_at_ms, wakes_on, wakes_on_mail) = match &self.record.status {
            Status::Sleeping { sleep, wake_at } => (*wake_at, sleep.events.clone(), sleep.mail),
            _ => (None, Vec::new(), None),
        };
        let mut schedules: Vec<u64> = match self.record.status {
            Status::Stopped => Vec::new(), // they fire no more
            _ => self
                .record
                .schedules
                .iter()
                .filter_map(|r| r.next_at)
                .collect(),
        };
        schedules.sort_unstable();
        AgentStatus {
            name: name.to_owned(),
            kind: self.record.kind.clone(),
            state: self.state(),
            queued: self.record.queued(),
            running: self.running.len(),
            wake_at_ms,
            wakes_on,
            wakes_on_mail,
            schedules,
            done: self.stats.done,
            failed: self.stats.failed,
            dead: self.stats.dead,
            last_task_ms: self.stats.last_ms,
            max_task_ms: self.stats.max_ms,
            last_error: self.stats.last_error.clone(),
            state_bytes: super::snapshot::json_bytes(&self.record.state),
            unloaded: false,
        }
    }

    /// Whether the agent may leave memory: nothing running, queued, unsaved or timed, and
    /// not waiting for room (those the engine finds by name without reading the store).
    pub(super) fn unloadable(&self) -> bool {
        self.running.is_empty()
            && !self.holds_active
            && self.unsaved == 0
            && self.alarm.is_none()
            && self.record.tasks.is_empty()
            && match &self.record.status {
                Status::Sleeping { sleep, .. } => sleep.room.is_none(),
                Status::Awake | Status::Stopped => true,
            }
    }

    /// What is kept of agent `name` once it leaves memory: its status, and what the store
    /// does not hold (its counts since the process started, its budget as spent here).
    pub(super) fn unload(self, name: &str) -> Unloaded {
        let mut status = self.status(name);
        status.unloaded = true;
        Unloaded {
            status,
            version: self.version,
            budget: self.budget,
        }
    }

    /// Agent `name` back in memory: its `record`, read at `version`, and what was kept of it.
    pub(super) fn reload(record: Record, version: u64, kept: Unloaded) -> Self {
        let mut agent = Agent::new(record, Some(version));
        let status = kept.status;
        agent.stats = Stats {
            done: status.done,
            failed: status.failed,
            dead: status.dead,
            last_ms: status.last_task_ms,
            max_ms: status.max_task_ms,
            last_error: status.last_error,
        };
        agent.budget = kept.budget;
        agent
    }

    /// Whether the agent would run a task if it had an active slot.
    fn wants_slot(&self, limits: &AgentLimits) -> bool {
        self.record.status == Status::Awake
            && self.running.len() < limits.tasks_per_agent
            && self.record.tasks.iter().any(|q| runnable(q, limits))
    }
}

/// Whether a queued task may start: not running, and with attempts left (one without is
/// waiting to be dead-lettered).
fn runnable(queued: &record::Queued, limits: &AgentLimits) -> bool {
    !queued.running && queued.task.attempt < limits.max_attempts
}

/// Whether `queued` was never started and its time to live has run out at `now`.
fn expired(queued: &record::Queued, now: u64) -> bool {
    !queued.running && expired_task(&queued.task, now)
}

fn expired_task(task: &Task, now: u64) -> bool {
    task.attempt == 0 && task.expires_at_ms.is_some_and(|at| at <= now)
}

impl<S> Drop for Inner<S> {
    fn drop(&mut self) {
        // The keeper of the leases and the timers hold the agents weakly, so they would
        // sleep on to their time for nothing.
        if let Some(keeper) = self.leases.as_ref().and_then(|l| lock(&l.keeper).take()) {
            keeper.abort();
        }
        if let Some(sweeper) = lock(&self.sweeper).take() {
            sweeper.abort();
        }
        let agents = self
            .agents
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for slot in agents.values() {
            if let Ok(agent) = slot.agent.try_lock()
                && let Some(alarm) = &agent.alarm
            {
                alarm.timer.abort();
            }
        }
    }
}

impl<S: Store + 'static> Inner<S> {
    pub fn new(
        store: Arc<S>,
        kinds: BTreeMap<String, Arc<dyn Handler>>,
        limits: AgentLimits,
        kind_limits: BTreeMap<String, usize>,
        clock: Clock,
        leases: Option<Leases>,
        unload_after: Option<Duration>,
    ) -> Self {
        Inner {
            store,
            kinds,
            limits,
            clock,
            agents: Mutex::new(BTreeMap::new()),
            unloaded: Mutex::new(HashMap::new()),
            unload_after,
            sweeper: Mutex::new(None),
            census: Mutex::new(Census::new(&limits, kind_limits)),
            active: Mutex::new(Active::new(limits.active_agents)),
            sleepers: Mutex::new(HashMap::new()),
            room: Mutex::new(VecDeque::new()),
            running_tasks: AtomicUsize::new(0),
            events: broadcast::channel(1024).0,
            closed: AtomicBool::new(false),
            leases,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AgentEvent> {
        self.events.subscribe()
    }

    pub fn emit(&self, event: AgentEvent) {
        event.trace();
        // Nobody listening is fine: the tracing event went out.
        let _ = self.events.send(event);
    }

    /// Sends what a change made in the background left to tell: its events, then its
    /// failure, if it failed.
    pub fn report(&self, agent: &str, events: Vec<AgentEvent>, outcome: Result<(), SessionError>) {
        for event in events {
            self.emit(event);
        }
        if let Err(e) = outcome {
            self.emit(AgentEvent::Error {
                agent: agent.to_owned(),
                error: e.to_string(),
            });
        }
    }

    /// Fails once shut down.
    pub fn open(&self) -> Result<(), SessionError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SessionError::ShutDown);
        }
        Ok(())
    }

    pub fn slot(&self, name: &str) -> Result<Arc<Slot>, SessionError> {
        self.open()?;
        lock(&self.agents)
            .get(name)
            .cloned()
            .ok_or_else(|| SessionError::NoAgent(echo::name(name)))
    }

    /// [`Inner::slot`], for a call on agent `name`: with leases, one this process does not
    /// have is another's ([`SessionError::Owned`]), or was this one's
    /// ([`SessionError::Lost`]), if its lease says so.
    pub async fn owned(&self, name: &str) -> Result<Arc<Slot>, SessionError> {
        let mut found = self.slot(name);
        if matches!(found, Err(SessionError::NoAgent(_)))
            && let Some(slot) = self.load(name).await?
        {
            found = Ok(slot);
        }
        let (Err(SessionError::NoAgent(_)), Some(leases)) = (&found, &self.leases) else {
            return found;
        };
        if Name::new(name).is_err() {
            return Err(SessionError::NoAgent(echo::name(name)));
        }
        Err(match leases.owner_of(&*self.store, name).await? {
            Some(owner) if owner == leases.owner() => SessionError::Lost(name.to_owned()),
            Some(owner) => SessionError::Owned {
                agent: name.to_owned(),
                owner: echo::name(&owner),
            },
            None => SessionError::NoAgent(name.to_owned()),
        })
    }

    pub fn slots(&self) -> Vec<Arc<Slot>> {
        lock(&self.agents).values().cloned().collect()
    }

    pub fn handler(&self, kind: &str) -> Result<&Arc<dyn Handler>, SessionError> {
        self.kinds.get(kind).ok_or_else(|| SessionError::NoKind {
            kind: echo::name(kind),
            known: self.kinds.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Adds `slot` to the agents; `false` if its name is taken.
    pub fn insert(&self, slot: &Arc<Slot>) -> bool {
        let mut agents = lock(&self.agents);
        if agents.contains_key(&slot.name) || lock(&self.unloaded).contains_key(&slot.name) {
            return false;
        }
        agents.insert(slot.name.clone(), slot.clone());
        true
    }

    /// Writes `agent`'s record, if nobody else wrote it since it was read, and, with leases,
    /// if the agent is still this process's.
    pub async fn save(&self, name: &str, agent: &mut Agent) -> Result<(), SessionError> {
        // After a shutdown the store keeps what a crash would have left.
        self.open()?;
        if let Some(leases) = &self.leases
            && !leases.owns(name, self.clock.now_ms())
        {
            return Err(SessionError::Lost(name.to_owned()));
        }
        let key = record::record_key(name)?;
        let value = serde_json::to_value(&agent.record).map_err(|e| SessionError::Corrupt {
            agent: name.to_owned(),
            reason: e.to_string(),
        })?;
        match self
            .store
            .write(&key, Expect::Version(agent.version), &value)
            .await?
        {
            Ok(version) => {
                agent.version = Some(version);
                Ok(())
            }
            Err(_) => Err(self.conflict(name).await),
        }
    }

    /// Why agent `name`'s record was written by someone else: with leases, it names the
    /// process that owns the agent now, if another.
    async fn conflict(&self, name: &str) -> SessionError {
        if let Some(leases) = &self.leases
            && let Ok(Some(owner)) = leases.owner_of(&*self.store, name).await
            && owner != leases.owner()
        {
            return SessionError::Owned {
                agent: name.to_owned(),
                owner: echo::name(&owner),
            };
        }
        SessionError::Concurrent(name.to_owned())
    }

    /// After a change to `agent` made by a turn or a timer: starts what may start, writes the
    /// record, re-arms the timer, announces a change of state (`woken_by` what woke it, if it
    /// woke). A record that cannot be written is written again later, by the timer.
    pub async fn settle(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        agent: &mut Agent,
        woken_by: Option<Wake>,
    ) -> Result<(), SessionError> {
        self.commit(slot, agent, woken_by, &mut Vec::new(), None)
            .await
    }

    /// [`Inner::settle`], sending the events of `announce` (what the change was) once it is
    /// saved, before those of the tasks it starts; they stay in `announce` if it is not
    /// saved. With `undo` (the record before the change), a change that cannot be saved is
    /// undone, as if never made.
    pub async fn commit(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        agent: &mut Agent,
        woken_by: Option<Wake>,
        announce: &mut Vec<AgentEvent>,
        undo: Option<Record>,
    ) -> Result<(), SessionError> {
        agent.changed_ms = Some(self.clock.now_ms());
        let buried = self.bury_exhausted(&slot.name, agent, announce).await;
        let starting = if self.closed.load(Ordering::Acquire) {
            Vec::new()
        } else {
            self.choose(&slot.name, agent)
        };
        let saved = match buried {
            Ok(()) => self.save(&slot.name, agent).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &saved
            && self.leases.is_some()
            && matches!(
                e,
                SessionError::Lost(_) | SessionError::Owned { .. } | SessionError::Concurrent(_)
            )
        {
            // With leases only the owner writes an agent's record: this process is not it.
            self.lose(slot, agent, &e.to_string());
            return saved;
        }
        match (&saved, undo) {
            (Ok(()), _) => {
                agent.unsaved = 0;
                for event in announce.drain(..) {
                    self.emit(event);
                }
                for id in starting {
                    self.start(slot, agent, id);
                }
            }
            (Err(_), Some(before)) => self.restore(&slot.name, agent, before),
            (Err(_), None) => {
                // Not written, so not started: as if never picked. Written later.
                for id in starting {
                    if let Some(queued) = agent.record.task_mut(id) {
                        queued.running = false;
                        queued.task.attempt -= 1;
                    }
                }
                agent.unsaved = agent.unsaved.saturating_add(1);
            }
        }
        if saved.is_err() && agent.running.is_empty() && agent.holds_active {
            self.release(agent);
        }
        if !agent.holds_active && !agent.wants_slot(&self.limits) {
            self.withdraw(&slot.name);
        }
        self.arm(slot, agent);
        let now = agent.state();
        if now != agent.shown {
            let from = std::mem::replace(&mut agent.shown, now);
            self.emit(AgentEvent::State {
                agent: slot.name.clone(),
                from,
                to: now,
                woken_by: woken_by.filter(|_| from == State::Sleeping),
            });
        }
        // A task ended, or an agent fell asleep for room: the first of them may have it.
        self.wake_for_room();
        saved
    }

    /// Puts back the record as it was before a change that could not be saved.
    fn restore(&self, name: &str, agent: &mut Agent, before: Record) {
        self.wake_up(name, agent);
        agent.record = before;
        if let Status::Sleeping { sleep, .. } = &agent.record.status {
            self.listen(name, sleep);
        }
    }

    /// Marks the tasks that start now as running, with their attempts counted: as many as
    /// the agent may run, if it has or gets an active slot. A task that must run alone
    /// starts only when nothing else runs, and then alone.
    fn choose(&self, name: &str, agent: &mut Agent) -> Vec<u64> {
        let mut starting = Vec::new();
        if agent.record.status != Status::Awake
            || agent.running.keys().any(|id| agent.solo.contains(id))
        {
            return starting;
        }
        while agent.running.len() + starting.len() < self.limits.tasks_per_agent {
            let Some(queued) = agent
                .record
                .tasks
                .iter_mut()
                .find(|q| runnable(q, &self.limits))
            else {
                break;
            };
            let alone = agent.solo.contains(&queued.task.id);
            if alone && !(agent.running.is_empty() && starting.is_empty()) {
                break;
            }
            if !agent.holds_active {
                if !lock(&self.active).acquire(name) {
                    break;
                }
                agent.holds_active = true;
            }
            queued.running = true;
            queued.task.attempt += 1;
            starting.push(queued.task.id);
            if alone {
                break;
            }
        }
        starting
    }

    /// Spawns the attempt of task `id`, which [`Inner::choose`] picked and the store has.
    fn start(self: &Arc<Self>, slot: &Arc<Slot>, agent: &mut Agent, id: u64) {
        let Some(task) = agent.record.task_mut(id).map(|q| q.task.clone()) else {
            return;
        };
        let Ok(handler) = self.handler(&agent.record.kind).cloned() else {
            return; // kinds are checked when an agent is created or restored
        };
        let budget = self.budget(agent, &*handler);
        self.emit(AgentEvent::TaskStarted {
            agent: slot.name.clone(),
            task: id,
            name: task.name.clone(),
            attempt: task.attempt,
        });
        slot.room.notify_waiters();
        let span = tracing::info_span!(
            "task",
            agent = slot.name.as_str(),
            task = task.name.as_str(),
            id,
            attempt = task.attempt
        );
        let before = agent.record.state.clone();
        let changes = agent.changes;
        let (inner, slot2) = (self.clone(), slot.clone());
        let run = async move {
            let started = Instant::now();
            let turn = Turn {
                agent: slot2.name.clone(),
                task,
                state: before.clone(),
                output: serde_json::Value::Null,
                sleep: None,
            };
            let outcome = handler.turn(turn, budget).await;
            inner
                .finish(&slot2, id, before, changes, outcome, started.elapsed())
                .await;
        };
        let handle = tokio::spawn(run.instrument(span)).abort_handle();
        agent.running.insert(id, handle);
        self.running_tasks.fetch_add(1, Ordering::AcqRel);
    }

    /// The agent's own budget, made (and restored from its record) the first time it runs
    /// in this process.
    fn budget(&self, agent: &mut Agent, handler: &dyn Handler) -> Option<Arc<Budget>> {
        if agent.budget.is_none() {
            let budget = handler.budget()?;
            if let Some(saved) = &agent.record.spending {
                let age = self.clock.now_ms().saturating_sub(saved.at_ms);
                let current = budget
                    .renews_every()
                    .is_none_or(|period| u128::from(age) < period.as_millis());
                if current {
                    budget.restore(&saved.spent);
                }
            }
            agent.budget = Some(Arc::new(budget));
        }
        agent.budget.clone()
    }

    /// Takes a finished attempt's outcome into the agent's record.
    async fn finish(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        id: u64,
        before: serde_json::Value,
        changes: u64,
        outcome: Outcome,
        took: Duration,
    ) {
        let mut guard = slot.agent.lock().await;
        let agent = &mut *guard;
        if self.closed.load(Ordering::Acquire) || agent.running.remove(&id).is_none() {
            return; // shut down, or stopped meanwhile
        }
        self.running_tasks.fetch_sub(1, Ordering::AcqRel);
        let name = slot.name.clone();
        let mut events = Vec::new();
        // Saved with the outcome, whatever it is: a failed turn spent too.
        if let Some(budget) = &agent.budget {
            agent.record.spending = Some(Spending {
                spent: budget.spent(),
                at_ms: self.clock.now_ms(),
            });
        }
        if let Some(task) = agent.record.task_mut(id).map(|q| q.task.clone()) {
            self.take_outcome(
                &name,
                agent,
                task,
                before,
                changes,
                outcome,
                took,
                &mut events,
            );
        }
        if agent.running.is_empty() && agent.holds_active {
            self.release(agent);
        }
        let settled = self.commit(slot, agent, None, &mut events, None).await;
        drop(guard);
        // Not saved: told all the same, as the record in memory has it (and is written later).
        self.report(&name, events, settled);
    }

    /// Changes the record as `task`'s attempt came out; the events to send for it.
    #[allow(clippy::too_many_arguments)] // one call, from `finish`
    fn take_outcome(
        &self,
        name: &str,
        agent: &mut Agent,
        task: Task,
        before: serde_json::Value,
        changes: u64,
        outcome: Outcome,
        took: Duration,
        events: &mut Vec<AgentEvent>,
    ) {
        let id = task.id;
        let mut failed = |agent: &mut Agent, error: String, dead: bool| {
            agent.stats.failed += 1;
            agent.stats.dead += u64::from(dead);
            agent.stats.last_error = Some(error.clone());
            events.push(AgentEvent::TaskFailed {
                agent: name.to_owned(),
                task: id,
                name: task.name.clone(),
                attempt: task.attempt,
                error,
                dead,
            });
        };
        // A new state over the limit fails the turn: the last good state is kept.
        let outcome = outcome.and_then(|turn| {
            let Some(max) = self.limits.max_state_bytes else {
                return Ok(turn);
            };
            match super::snapshot::json_bytes(&turn.state) {
                size if size > max => Err(format!(
                    "its new state is {size} bytes, over the limit of {max} \
                     (AgentLimits::max_state_bytes): the last good state is kept"
                )),
                _ => Ok(turn),
            }
        });
        match outcome {
            Ok(turn) if turn.state != before && agent.changes != changes => {
                // Another turn changed the state after this one read it: this one's change
                // would undo that one's, so it runs again, on the new state, and alone, so
                // that no other turn can change the state under it again.
                if let Some(queued) = agent.record.task_mut(id) {
                    queued.running = false;
                    queued.task.attempt -= 1;
                }
                agent.solo.insert(id);
                failed(
                    agent,
                    "another turn changed the agent's state meanwhile: it runs again, alone, on the new state"
                        .to_owned(),
                    false,
                );
            }
            Ok(turn) => {
                agent.record.remove(id);
                agent.solo.remove(&id);
                if turn.state != before {
                    agent.record.state = turn.state;
                    agent.changes += 1;
                }
                if let Some(sleep) = turn.sleep {
                    self.fall_asleep(name, agent, sleep);
                }
                let ms = millis(took);
                agent.stats.done += 1;
                agent.stats.last_ms = Some(ms);
                agent.stats.max_ms = agent.stats.max_ms.max(Some(ms));
                events.push(AgentEvent::TaskDone {
                    agent: name.to_owned(),
                    task: id,
                    name: task.name.clone(),
                    ms,
                    output: turn.output,
                });
            }
            Err(error) => {
                // Out of attempts, it stays queued but runnable no more until it is buried.
                if let Some(queued) = agent.record.task_mut(id) {
                    queued.running = false;
                    queued.error = Some(error.clone());
                }
                agent.solo.remove(&id);
                let dead = task.attempt >= self.limits.max_attempts;
                failed(agent, error, dead);
            }
        }
    }

    /// Writes a record just restored: dead-letters what is out of attempts, saves the rest.
    pub async fn write_recovered(
        &self,
        name: &str,
        agent: &mut Agent,
        events: &mut Vec<AgentEvent>,
    ) -> Result<(), SessionError> {
        self.bury_exhausted(name, agent, events).await?;
        self.save(name, agent).await
    }

    /// Dead-letters the tasks out of attempts, and takes them out of the queue.
    async fn bury_exhausted(
        &self,
        name: &str,
        agent: &mut Agent,
        events: &mut Vec<AgentEvent>,
    ) -> Result<(), SessionError> {
        let limits = self.limits;
        let now = self.clock.now_ms();
        let exhausted: Vec<(Task, String)> = agent
            .record
            .tasks
            .iter()
            .filter(|q| !q.running && (q.task.attempt >= limits.max_attempts || expired(q, now)))
            .map(|q| {
                let error = match &q.error {
                    _ if expired(q, now) => {
                        "expired: not started within its time to live".to_owned()
                    }
                    Some(error) => error.clone(),
                    None => format!("its {} attempts failed", q.task.attempt),
                };
                (q.task.clone(), error)
            })
            .collect();
        for (task, error) in exhausted {
            if expired_task(&task, now) {
                agent.stats.dead += 1;
                events.push(AgentEvent::TaskExpired {
                    agent: name.to_owned(),
                    task: task.id,
                    name: task.name.clone(),
                });
            }
            if let Err(e) = self.bury(name, task.clone(), error).await {
                events.push(AgentEvent::Error {
                    agent: name.to_owned(),
                    error: format!("task {} could not be dead-lettered: {e}", task.id),
                });
                return Err(e);
            }
            agent.record.remove(task.id);
        }
        Ok(())
    }

    /// Writes a dead task, unless it is written already (by an attempt that a crash cut off
    /// before its record said so).
    pub(super) async fn bury(
        &self,
        name: &str,
        task: Task,
        error: String,
    ) -> Result<(), SessionError> {
        self.open()?;
        let key = record::dead_key(name, task.id)?;
        let dead = DeadTask {
            task,
            error,
            at_ms: self.clock.now_ms(),
        };
        let value = serde_json::to_value(&dead).map_err(|e| SessionError::Corrupt {
            agent: name.to_owned(),
            reason: e.to_string(),
        })?;
        // A conflict is the same task, buried before: the first error is the one kept.
        let _ = self
            .store
            .write(&key, Expect::Version(None), &value)
            .await?;
        Ok(())
    }

    /// Gives the agent's active slot back.
    pub(super) fn release(self: &Arc<Self>, agent: &mut Agent) {
        agent.holds_active = false;
        let next = lock(&self.active).release();
        self.hand_over(next);
    }

    /// Takes agent `name` out of the queue for an active slot, if it is in it.
    pub(super) fn withdraw(self: &Arc<Self>, name: &str) {
        let next = lock(&self.active).withdraw(name);
        self.hand_over(next);
    }

    /// Tells an agent handed an active slot to take it.
    fn hand_over(self: &Arc<Self>, agent: Option<String>) {
        let Some(name) = agent else { return };
        let inner = self.clone();
        tokio::spawn(async move {
            let Ok(slot) = inner.slot(&name) else { return };
            let mut agent = slot.agent.lock().await;
            let settled = inner.settle(&slot, &mut agent, None).await;
            inner.report(&name, Vec::new(), settled);
        });
    }

    /// Queues a task for `agent`; returns it.
    pub fn enqueue(
        &self,
        agent: &mut Agent,
        name: &str,
        spec: TaskSpec,
    ) -> Result<Task, SessionError> {
        match agent.record.status {
            Status::Stopped => return Err(SessionError::Stopped(name.to_owned())),
            _ if agent.record.queued() >= self.limits.queue => {
                return Err(SessionError::QueueFull {
                    agent: name.to_owned(),
                    queue: self.limits.queue,
                });
            }
            _ => {}
        }
        // Only a record changed outside could have used up 2^64 ids.
        let next = agent
            .record
            .next_task
            .checked_add(1)
            .ok_or_else(|| SessionError::Corrupt {
                agent: name.to_owned(),
                reason: "its next task id is the last there is".to_owned(),
            })?;
        let task = Task {
            id: agent.record.next_task,
            name: spec.name,
            input: spec.input,
            priority: spec.priority,
            attempt: 0,
            expires_at_ms: spec
                .ttl_ms
                .map(|ttl| self.clock.now_ms().saturating_add(ttl)),
        };
        agent.record.next_task = next;
        agent.record.enqueue(task.clone());
        Ok(task)
    }

    /// The event for a task just queued.
    pub fn queued(&self, agent: &Agent, name: &str, task: &Task) -> AgentEvent {
        AgentEvent::TaskQueued {
            agent: name.to_owned(),
            task: task.id,
            name: task.name.clone(),
            queued: agent.record.queued(),
        }
    }

    /// Puts the agent to sleep (again, if it sleeps: the new sleep replaces the old).
    pub fn fall_asleep(&self, name: &str, agent: &mut Agent, sleep: Sleep) {
        self.wake_up(name, agent);
        self.listen(name, &sleep);
        let wake_at = sleep.wake_at(self.clock.now_ms());
        agent.record.status = Status::Sleeping { sleep, wake_at };
    }

    /// Notes what agent `name` sleeps on: its events, and room.
    pub(super) fn listen(&self, name: &str, sleep: &Sleep) {
        if let Some(below) = sleep.room {
            lock(&self.room).push_back((name.to_owned(), below));
        }
        let mut sleepers = lock(&self.sleepers);
        for event in &sleep.events {
            sleepers
                .entry(event.clone())
                .or_default()
                .insert(name.to_owned());
        }
    }

    /// Wakes the agent, if it sleeps; returns whether it did.
    pub fn wake_up(&self, name: &str, agent: &mut Agent) -> bool {
        let Status::Sleeping { sleep, .. } = &agent.record.status else {
            return false;
        };
        if sleep.room.is_some() {
            lock(&self.room).retain(|(sleeper, _)| sleeper != name);
        }
        self.unlisten(name, &sleep.events);
        agent.record.status = Status::Awake;
        true
    }

    /// Agent `name` sleeps on `events` no more.
    pub(super) fn unlisten(&self, name: &str, events: &[String]) {
        let mut sleepers = lock(&self.sleepers);
        for event in events {
            if let Some(names) = sleepers.get_mut(event) {
                names.remove(name);
                if names.is_empty() {
                    sleepers.remove(event);
                }
            }
        }
    }

    /// Tasks that stopped running without finishing (aborted): `count` of them.
    pub(super) fn aborted(&self, count: usize) {
        self.running_tasks.fetch_sub(count, Ordering::AcqRel);
    }

    /// Wakes the agents sleeping for room that now have it: in the order they fell asleep,
    /// each counted as one more task running, so that one task's worth of room wakes one.
    pub(super) fn wake_for_room(self: &Arc<Self>) {
        let mut running = self.running_tasks.load(Ordering::Acquire);
        let mut waiting = lock(&self.room);
        while let Some(&(_, below)) = waiting.front() {
            if running >= below {
                break;
            }
            let Some((name, _)) = waiting.pop_front() else {
                break;
            };
            let woke_at = running;
            running += 1;
            let inner = self.clone();
            tokio::spawn(async move {
                let Ok(slot) = inner.slot(&name) else { return };
                let mut agent = slot.agent.lock().await;
                let for_room = matches!(&agent.record.status,
                    Status::Sleeping { sleep, .. } if sleep.room.is_some());
                if !for_room {
                    return;
                }
                let before = agent.record.clone();
                inner.wake_up(&name, &mut agent);
                let woken_by = Some(Wake::Room { running: woke_at });
                let mut events = Vec::new();
                let settled = inner
                    .commit(&slot, &mut agent, woken_by, &mut events, Some(before))
                    .await;
                drop(agent);
                inner.report(&name, events, settled);
            });
        }
    }

    /// The agents sleeping on `event`.
    pub fn sleepers(&self, event: &str) -> Vec<String> {
        lock(&self.sleepers)
            .get(event)
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }
}
