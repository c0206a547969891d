//! The machinery behind [`Agents`](super::Agents): each agent's record under a lock of its
//! own, written to the store on every change, and the tasks and timers it spawns.
//!
//! Every change to an agent goes the same way ([`Inner::settle`]): change the record, pick
//! the tasks that may start (counting their attempts), write the record, and only then spawn
//! them, re-arm the agent's timer and announce a change of state. A task is therefore never
//! running unless the store says so, and a restart finds every attempt that a crash cut off.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use plan_state::store::{Expect, Store};
use tokio::sync::{Notify, broadcast};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::active::Active;
use super::clock::Clock;
use super::kind::Handler;
use super::record::{self, DeadTask, Record, Status};
use super::{AgentStatus, Event, Limits, SessionError, Sleep, State, Task, TaskSpec, Turn, Wake};

/// The agents of one [`Agents`](super::Agents).
pub(crate) struct Inner<S> {
    pub store: Arc<S>,
    pub kinds: BTreeMap<String, Arc<dyn Handler>>,
    pub limits: Limits,
    pub clock: Clock,
    agents: Mutex<BTreeMap<String, Arc<Slot>>>,
    active: Mutex<Active>,
    /// Which agents sleep on each event.
    sleepers: Mutex<HashMap<String, BTreeSet<String>>>,
    events: broadcast::Sender<Event>,
    /// Set by [`Inner::shutdown`]: nothing more starts.
    closed: AtomicBool,
}

/// One agent.
pub(crate) struct Slot {
    pub name: String,
    pub agent: tokio::sync::Mutex<Agent>,
    /// Told whenever the agent's queue shrinks, for senders waiting for room.
    pub room: Notify,
}

/// An agent's record and what runs for it.
pub(crate) struct Agent {
    pub record: Record,
    /// The record's version in the store (`None`: not written yet).
    version: Option<u64>,
    running: HashMap<u64, AbortHandle>,
    holds_active: bool,
    /// The agent's timer: when it fires, and the task that waits for it.
    alarm: Option<(u64, AbortHandle)>,
    /// The state last announced.
    shown: State,
    /// How many turns changed the state: a turn that started before another changed it
    /// does not overwrite that change.
    changes: u64,
    stats: Stats,
}

/// What an agent did since the process started.
#[derive(Default)]
struct Stats {
    done: u64,
    failed: u64,
    dead: u64,
    last_ms: Option<u64>,
    max_ms: Option<u64>,
    last_error: Option<String>,
}

/// What a turn came back with.
type Outcome = Result<Turn<serde_json::Value>, String>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a few map operations that cannot leave the map half-changed.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Agent {
    fn new(record: Record, version: Option<u64>) -> Self {
        let mut agent = Agent {
            record,
            version,
            running: HashMap::new(),
            holds_active: false,
            alarm: None,
            shown: State::Idle,
            changes: 0,
            stats: Stats::default(),
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
        let mut schedules: Vec<u64> = self
            .record
            .schedules
            .iter()
            .filter_map(|r| r.next_at)
            .collect();
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
        }
    }

    /// Whether the agent would run a task if it had an active slot.
    fn wants_slot(&self, limits: &Limits) -> bool {
        self.record.status == Status::Awake
            && self.record.queued() > 0
            && self.running.len() < limits.tasks_per_agent
    }
}

impl<S> Drop for Inner<S> {
    fn drop(&mut self) {
        // Timers hold the agents weakly, so they would sleep on to their time for nothing.
        let agents = self
            .agents
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for slot in agents.values() {
            if let Ok(agent) = slot.agent.try_lock()
                && let Some((_, timer)) = &agent.alarm
            {
                timer.abort();
            }
        }
    }
}

impl<S: Store + 'static> Inner<S> {
    pub fn new(
        store: Arc<S>,
        kinds: BTreeMap<String, Arc<dyn Handler>>,
        limits: Limits,
        clock: Clock,
    ) -> Self {
        Inner {
            store,
            kinds,
            limits,
            clock,
            agents: Mutex::new(BTreeMap::new()),
            active: Mutex::new(Active::new(limits.active_agents)),
            sleepers: Mutex::new(HashMap::new()),
            events: broadcast::channel(1024).0,
            closed: AtomicBool::new(false),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn emit(&self, event: Event) {
        event.trace();
        // Nobody listening is fine: the tracing event went out.
        let _ = self.events.send(event);
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
            .ok_or_else(|| SessionError::NoAgent(name.to_owned()))
    }

    pub fn slots(&self) -> Vec<Arc<Slot>> {
        lock(&self.agents).values().cloned().collect()
    }

    pub fn handler(&self, kind: &str) -> Result<&Arc<dyn Handler>, SessionError> {
        self.kinds.get(kind).ok_or_else(|| SessionError::NoKind {
            kind: kind.to_owned(),
            known: self.kinds.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Adds an agent that is not in the store yet (`version` `None`) or was read from it.
    /// Returns `None` if the name is taken.
    pub fn insert(&self, name: &str, record: Record, version: Option<u64>) -> Option<Arc<Slot>> {
        let mut agents = lock(&self.agents);
        if agents.contains_key(name) {
            return None;
        }
        let slot = Arc::new(Slot {
            name: name.to_owned(),
            agent: tokio::sync::Mutex::new(Agent::new(record, version)),
            room: Notify::new(),
        });
        agents.insert(name.to_owned(), slot.clone());
        Some(slot)
    }

    pub fn forget(&self, name: &str) {
        lock(&self.agents).remove(name);
    }

    /// Writes `agent`'s record, if nobody else wrote it since it was read.
    async fn save(&self, name: &str, agent: &mut Agent) -> Result<(), SessionError> {
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
            Err(_) => Err(SessionError::Concurrent(name.to_owned())),
        }
    }

    /// After a change to `agent`: starts what may start, writes the record, re-arms the
    /// timer, announces a change of state (`woken_by` what woke it, if it woke).
    pub async fn settle(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        agent: &mut Agent,
        woken_by: Option<Wake>,
    ) -> Result<(), SessionError> {
        self.settle_announcing(slot, agent, woken_by, &mut Vec::new())
            .await
    }

    /// [`Inner::settle`], sending the events of `announce` (what the change was) once it is
    /// saved, before those of the tasks it starts; left in `announce` if it is not saved.
    pub async fn settle_announcing(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        agent: &mut Agent,
        woken_by: Option<Wake>,
        announce: &mut Vec<Event>,
    ) -> Result<(), SessionError> {
        let starting = if self.closed.load(Ordering::Acquire) {
            Vec::new()
        } else {
            self.choose(&slot.name, agent)
        };
        let saved = self.save(&slot.name, agent).await;
        if saved.is_ok() {
            for event in announce.drain(..) {
                self.emit(event);
            }
            for id in starting {
                self.start(slot, agent, id);
            }
        } else {
            // Not written, so not started: as if never picked.
            for id in starting {
                if let Some(queued) = agent.record.task_mut(id) {
                    queued.running = false;
                    queued.task.attempt -= 1;
                }
            }
            if agent.running.is_empty() && agent.holds_active {
                self.release(agent);
            }
        }
        if !agent.holds_active && !agent.wants_slot(&self.limits) {
            let next = lock(&self.active).withdraw(&slot.name);
            self.hand_over(next);
        }
        self.arm(slot, agent);
        let now = agent.state();
        if now != agent.shown {
            let from = std::mem::replace(&mut agent.shown, now);
            self.emit(Event::State {
                agent: slot.name.clone(),
                from,
                to: now,
                woken_by: woken_by.filter(|_| from == State::Sleeping),
            });
        }
        saved
    }

    /// Marks the tasks that start now as running, with their attempts counted: as many as
    /// the agent may run, if it has or gets an active slot.
    fn choose(&self, name: &str, agent: &mut Agent) -> Vec<u64> {
        let mut starting = Vec::new();
        if agent.record.status != Status::Awake {
            return starting;
        }
        while agent.running.len() + starting.len() < self.limits.tasks_per_agent {
            let Some(queued) = agent.record.tasks.iter_mut().find(|q| !q.running) else {
                break;
            };
            if !agent.holds_active {
                if !lock(&self.active).acquire(name) {
                    break;
                }
                agent.holds_active = true;
            }
            queued.running = true;
            queued.task.attempt += 1;
            starting.push(queued.task.id);
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
        self.emit(Event::TaskStarted {
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
            let outcome = handler.turn(turn).await;
            inner
                .finish(&slot2, id, before, changes, outcome, started.elapsed())
                .await;
        };
        let handle = tokio::spawn(run.instrument(span)).abort_handle();
        agent.running.insert(id, handle);
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
        if agent.running.remove(&id).is_none() {
            return; // stopped meanwhile
        }
        let name = slot.name.clone();
        let Some(queued) = agent.record.task_mut(id) else {
            return;
        };
        let task = queued.task.clone();
        let mut events = Vec::new();
        let mut failed = |agent: &mut Agent, error: String, dead: bool| {
            agent.stats.failed += 1;
            agent.stats.last_error = Some(error.clone());
            events.push(Event::TaskFailed {
                agent: name.clone(),
                task: id,
                name: task.name.clone(),
                attempt: task.attempt,
                error,
                dead,
            });
        };
        match outcome {
            Ok(turn) if turn.state != before && agent.changes != changes => {
                // Another turn changed the state after this one read it: this one's change
                // would undo that one's, so it runs again, on the new state.
                queued.running = false;
                queued.task.attempt -= 1;
                failed(
                    agent,
                    "another turn changed the agent's state meanwhile: it runs again on the new state"
                        .to_owned(),
                    false,
                );
            }
            Ok(turn) => {
                agent.record.remove(id);
                if turn.state != before {
                    agent.record.state = turn.state;
                    agent.changes += 1;
                }
                if let Some(sleep) = turn.sleep {
                    self.fall_asleep(&name, agent, sleep);
                }
                let ms = millis(took);
                agent.stats.done += 1;
                agent.stats.last_ms = Some(ms);
                agent.stats.max_ms = agent.stats.max_ms.max(Some(ms));
                events.push(Event::TaskDone {
                    agent: name.clone(),
                    task: id,
                    name: task.name.clone(),
                    ms,
                    output: turn.output,
                });
            }
            Err(error) if task.attempt >= self.limits.max_attempts => {
                match self.bury(&name, task.clone(), error.clone()).await {
                    Ok(()) => {
                        agent.record.remove(id);
                        agent.stats.dead += 1;
                        failed(agent, error, true);
                    }
                    Err(e) => {
                        // Kept, to be buried after its next attempt.
                        if let Some(queued) = agent.record.task_mut(id) {
                            queued.running = false;
                        }
                        failed(agent, error, false);
                        events.push(Event::Error {
                            agent: name.clone(),
                            error: format!("task {id} could not be dead-lettered: {e}"),
                        });
                    }
                }
            }
            Err(error) => {
                queued.running = false;
                failed(agent, error, false);
            }
        }
        if agent.running.is_empty() && agent.holds_active {
            self.release(agent);
        }
        let settled = self.settle_announcing(slot, agent, None, &mut events).await;
        drop(guard);
        // Not saved: told all the same, as the record in memory has it.
        for event in events {
            self.emit(event);
        }
        if let Err(e) = settled {
            self.emit(Event::Error {
                agent: name,
                error: e.to_string(),
            });
        }
    }

    /// Writes a dead task.
    async fn bury(&self, name: &str, task: Task, error: String) -> Result<(), SessionError> {
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
        self.store.put(&key, &value).await?;
        Ok(())
    }

    /// Gives the agent's active slot back.
    fn release(self: &Arc<Self>, agent: &mut Agent) {
        agent.holds_active = false;
        let next = lock(&self.active).release();
        self.hand_over(next);
    }

    /// Tells an agent handed an active slot to take it.
    fn hand_over(self: &Arc<Self>, agent: Option<String>) {
        let Some(name) = agent else { return };
        let inner = self.clone();
        tokio::spawn(async move {
            let Ok(slot) = inner.slot(&name) else { return };
            let mut agent = slot.agent.lock().await;
            if let Err(e) = inner.settle(&slot, &mut agent, None).await {
                inner.emit(Event::Error {
                    agent: name,
                    error: e.to_string(),
                });
            }
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
        let task = Task {
            id: agent.record.next_task,
            name: spec.name,
            input: spec.input,
            priority: spec.priority,
            attempt: 0,
        };
        agent.record.next_task += 1;
        agent.record.enqueue(task.clone());
        Ok(task)
    }

    /// The event for a task just queued.
    pub fn queued(&self, agent: &Agent, name: &str, task: &Task) -> Event {
        Event::TaskQueued {
            agent: name.to_owned(),
            task: task.id,
            name: task.name.clone(),
            queued: agent.record.queued(),
        }
    }

    /// Puts the agent to sleep (again, if it sleeps: the new sleep replaces the old).
    pub fn fall_asleep(&self, name: &str, agent: &mut Agent, sleep: Sleep) {
        self.wake_up(name, agent);
        let mut sleepers = lock(&self.sleepers);
        for event in &sleep.events {
            sleepers
                .entry(event.clone())
                .or_default()
                .insert(name.to_owned());
        }
        let wake_at = sleep.wake_at(self.clock.now_ms());
        agent.record.status = Status::Sleeping { sleep, wake_at };
    }

    /// Wakes the agent, if it sleeps; returns whether it did.
    pub fn wake_up(&self, name: &str, agent: &mut Agent) -> bool {
        let Status::Sleeping { sleep, .. } = &agent.record.status else {
            return false;
        };
        let mut sleepers = lock(&self.sleepers);
        for event in &sleep.events {
            if let Some(names) = sleepers.get_mut(event) {
                names.remove(name);
                if names.is_empty() {
                    sleepers.remove(event);
                }
            }
        }
        agent.record.status = Status::Awake;
        true
    }

    /// The agents sleeping on `event`.
    pub fn sleepers(&self, event: &str) -> Vec<String> {
        lock(&self.sleepers)
            .get(event)
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sets the agent's timer for the soonest of its wake time and its schedules.
    fn arm(self: &Arc<Self>, slot: &Arc<Slot>, agent: &mut Agent) {
        let wake = match agent.record.status {
            Status::Sleeping { wake_at, .. } => wake_at,
            _ => None,
        };
        let due = if agent.record.status == Status::Stopped || self.closed.load(Ordering::Acquire) {
            None
        } else {
            wake.into_iter()
                .chain(agent.record.schedules.iter().filter_map(|r| r.next_at))
                .min()
        };
        if agent.alarm.as_ref().map(|(at, _)| *at) == due {
            return;
        }
        if let Some((_, timer)) = agent.alarm.take() {
            timer.abort();
        }
        let Some(at) = due else { return };
        // A timer holds the agents weakly: agents nobody uses go away with their timers.
        let (inner, name, when) = (
            Arc::downgrade(self),
            slot.name.clone(),
            self.clock.instant_at(at),
        );
        let timer = tokio::spawn(async move {
            tokio::time::sleep_until(when).await;
            if let Some(inner) = inner.upgrade() {
                inner.alarm(&name).await;
            }
        });
        agent.alarm = Some((at, timer.abort_handle()));
    }

    /// The agent's timer fired: queues the tasks of due schedules, wakes it if its time came.
    async fn alarm(self: &Arc<Self>, name: &str) {
        let Ok(slot) = self.slot(name) else { return };
        let mut guard = slot.agent.lock().await;
        let agent = &mut *guard;
        // This timer is the one running: it must not be aborted as the next is armed.
        agent.alarm = None;
        let now = self.clock.now_ms();
        let mut events = Vec::new();
        let mut woken_by = None;
        let due: Vec<TaskSpec> = agent
            .record
            .schedules
            .iter_mut()
            .filter(|r| r.next_at.is_some_and(|at| at <= now))
            .map(|r| {
                r.next_at = r.schedule.next_after(now);
                r.task.clone()
            })
            .collect();
        for spec in due {
            match self.enqueue(agent, name, spec) {
                Ok(task) => {
                    events.push(self.queued(agent, name, &task));
                    woken_by = Some(Wake::Schedule { task: task.name });
                }
                Err(e) => events.push(Event::Error {
                    agent: name.to_owned(),
                    error: format!("a schedule's task was not queued: {e}"),
                }),
            }
        }
        if let Status::Sleeping {
            wake_at: Some(at), ..
        } = agent.record.status
            && at <= now
        {
            woken_by = Some(Wake::Timer);
        }
        if woken_by.is_some() {
            self.wake_up(name, agent);
        }
        let settled = self
            .settle_announcing(&slot, agent, woken_by, &mut events)
            .await;
        drop(guard);
        for event in events {
            self.emit(event);
        }
        if let Err(e) = settled {
            self.emit(Event::Error {
                agent: name.to_owned(),
                error: e.to_string(),
            });
        }
    }

    /// After a restart: every attempt that was running when the process stopped failed.
    pub async fn recover(self: &Arc<Self>, slot: &Arc<Slot>) -> Result<(), SessionError> {
        let mut guard = slot.agent.lock().await;
        let agent = &mut *guard;
        let name = slot.name.clone();
        let mut events = Vec::new();
        let cut_off: Vec<Task> = agent
            .record
            .tasks
            .iter()
            .filter(|q| q.running)
            .map(|q| q.task.clone())
            .collect();
        for task in cut_off {
            let error = format!("the process stopped during attempt {}", task.attempt);
            let dead = task.attempt >= self.limits.max_attempts;
            if dead {
                self.bury(&name, task.clone(), error.clone()).await?;
                agent.record.remove(task.id);
                agent.stats.dead += 1;
            } else if let Some(queued) = agent.record.task_mut(task.id) {
                queued.running = false;
            }
            agent.stats.failed += 1;
            events.push(Event::TaskFailed {
                agent: name.clone(),
                task: task.id,
                name: task.name,
                attempt: task.attempt,
                error,
                dead,
            });
        }
        if let Status::Sleeping { sleep, .. } = &agent.record.status {
            let mut sleepers = lock(&self.sleepers);
            for event in &sleep.events {
                sleepers
                    .entry(event.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
        agent.shown = agent.state();
        let settled = self.settle_announcing(slot, agent, None, &mut events).await;
        drop(guard);
        for event in events {
            self.emit(event);
        }
        settled
    }

    /// Stops `agent`: its running attempts are cancelled, and those and its queued tasks
    /// dead-lettered.
    pub async fn stop(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        agent: &mut Agent,
    ) -> Result<(), SessionError> {
        for (_, run) in agent.running.drain() {
            run.abort();
        }
        // One at a time, each out of the record only once buried: a failed write loses none.
        while let Some(queued) = agent.record.tasks.first().cloned() {
            let error = if queued.running {
                format!(
                    "the agent was stopped during attempt {}",
                    queued.task.attempt
                )
            } else {
                "the agent was stopped before the task ran".to_owned()
            };
            self.bury(&slot.name, queued.task, error).await?;
            agent.record.tasks.remove(0);
            agent.stats.dead += 1;
        }
        slot.room.notify_waiters();
        self.wake_up(&slot.name, agent);
        agent.record.status = Status::Stopped;
        if agent.holds_active {
            self.release(agent);
        }
        self.settle(slot, agent, None).await
    }

    /// Stops everything at once, as a crash would, but for the store: nothing more is written
    /// and nothing more starts.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        for slot in self.slots() {
            let mut agent = slot.agent.lock().await;
            for (_, run) in agent.running.drain() {
                run.abort();
            }
            if let Some((_, timer)) = agent.alarm.take() {
                timer.abort();
            }
        }
    }
}
