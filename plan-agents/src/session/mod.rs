//! Agent sessions: agents, each with its own state, task queue and inbox, that run a plan per
//! task, sleep until a time, an event or urgent mail, run on schedules, and carry on after a
//! restart where they were.
//!
//! An agent is an instance of a *kind*: a plan over [`Turn`]s of the kind's state, registered
//! on the [`Builder`]. Each task the agent runs is one turn: the plan gets the agent's state
//! and the task, and gives back the new state, an output, and maybe a [`Sleep`].
//!
//! * **States** ([`State`]): idle, active, sleeping, waiting (for a slot under
//!   [`AgentLimits::active_agents`]) and stopped; every change is an [`AgentEvent`].
//! * **Queues**: tasks queue by priority, then in order ([`Agents::schedule`],
//!   [`Agents::mail`]); an agent runs [`AgentLimits::tasks_per_agent`] at once, and refuses more
//!   than [`AgentLimits::queue`] queued.
//! * **Sleep and wake**: [`Agents::sleep`] (or a turn's [`Turn::sleep`]) until a time, a
//!   named event ([`Agents::signal`]), mail at or above a priority, or [`Agents::wake`];
//!   [`Agents::every`] queues a task on a [`Schedule`], which
//!   wakes the agent.
//! * **Kept in a store** (any [`plan_state::store::Store`]): each agent's record, written
//!   before anything it says happens, so that a restart ([`Builder::start`]) restores every
//!   agent with its state, queue, sleep and schedules. An attempt a crash cut off is tried
//!   again; a task that fails [`AgentLimits::max_attempts`] times is dead-lettered
//!   ([`Agents::dead_tasks`], [`Agents::replay_dead_tasks`]).
//! * **Shared by processes** ([`Builder::lease`]): several processes on one store, each agent
//!   owned by the process that holds its [`Lease`]. When an owner dies, another takes its
//!   agents over within the lease's ttl and a scan, as a restart would; an owner that lost a
//!   lease runs nothing more of the agent, and cannot write its record.
//! * **Idle agents out of memory** ([`Builder::unload_idle_after`]): an agent idle long
//!   enough leaves memory, its record staying in the store, and is read back on the next
//!   call that needs it.
//! * **Monitoring**: [`Agents::events`] and tracing events for state changes, queue depths,
//!   task durations and errors; [`Agents::snapshot`] for all agents at one moment.
//!
//! # Limits
//!
//! What a caller can make the agents hold is bounded, for every caller alike (code in
//! process, a client of the control API), by [`AgentLimits`] set on the [`Builder`]; going past
//! one is an error that names the limit and how to raise it, and changes nothing:
//!
//! | what | limit | default | refused with |
//! | --- | --- | --- | --- |
//! | agents, in all (stopped ones too) | [`AgentLimits::agents`] | 10,000 | [`SessionError::TooManyAgents`] |
//! | agents of one kind | [`Builder::kind_limit`] | [`AgentLimits::agents`] | [`SessionError::KindFull`] |
//! | tasks queued per agent, however they come | [`AgentLimits::queue`] | 64 | [`SessionError::QueueFull`] |
//! | schedules per agent | [`AgentLimits::schedules`] | 16 | [`SessionError::TooManySchedules`] |
//! | time between two runs of a schedule | [`AgentLimits::min_period`] | 1 s | [`SessionError::TooFrequent`] |
//! | task and event names | [`MAX_NAME`] | 255 bytes | [`SessionError::NameTooLong`] |
//!
//! An agent's name is a bus [`Name`]: 64 bytes at most. Errors echo at most 64 bytes of a
//! name given to them (`aaaa… (500000 bytes)`). A restart restores every agent and schedule
//! the store keeps, even past a limit lowered since.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use plan_agents::session::{Agents, Sleep, State, TaskSpec, Turn};
//! use plan_runtime::prelude::*;
//! use plan_state::store::InMemory;
//!
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct Watch { checks: u32 }
//!
//! // Each task is a health check; after it, the agent sleeps for a minute or until an alert.
//! async fn check(mut turn: Turn<Watch>) -> Turn<Watch> {
//!     turn.state.checks += 1;
//!     turn.output = serde_json::json!({ "healthy": true });
//!     turn.sleep = Some(Sleep::for_(Duration::from_secs(60)).or_event("alert"));
//!     turn
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let agents = Agents::builder(Arc::new(InMemory::new()))
//!     .kind("watchdog", plan! { check })
//!     .start()
//!     .await?;
//! agents.create("dog", "watchdog", None).await?;
//! agents.schedule("dog", TaskSpec::new("check")).await?;
//! tokio::time::sleep(Duration::from_millis(1)).await;
//! assert_eq!(agents.status("dog").await?.state, State::Sleeping);
//! assert_eq!(agents.signal("alert").await?, 1); // wakes the dog
//! assert_eq!(agents.status("dog").await?.state, State::Idle);
//! assert_eq!(agents.state("dog").await?, serde_json::json!({ "checks": 1 }));
//! # Ok::<_, plan_agents::session::SessionError>(())
//! # }).unwrap();
//! ```

mod active;
mod alarm;
mod builder;
mod census;
mod clock;
mod engine;
mod error;
mod event;
mod inbox;
mod keeper;
mod kind;
mod lease;
mod lifecycle;
mod limits;
mod record;
mod residency;
mod snapshot;
mod state;
mod task;
mod turn;

use std::sync::Arc;

use plan_state::store::Store;
use tokio::sync::broadcast;

pub use builder::Builder;
pub use error::SessionError;
pub use event::AgentEvent;
pub use kind::{IntoKind, Kind};
pub use lease::Lease;
pub use limits::{AgentLimits, MAX_NAME};
pub use record::DeadTask;
pub use snapshot::{AgentStatus, Snapshot};
pub use state::{Sleep, State, Wake};
pub use task::{Task, TaskSpec};
pub use turn::Turn;

use crate::bus::{Message, Name};
use crate::echo;
use crate::schedule::Schedule;
use census::Place;
use engine::{Inner, Slot};
use limits::check_name;
use record::{Recurring, Status};

/// A set of agents over one store: a cheap handle, cloned to share.
pub struct Agents<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Agents<S> {
    fn clone(&self) -> Self {
        Agents {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Store + 'static> Agents<S> {
    /// Agents kept in `store`: register their kinds, then [`Builder::start`].
    pub fn builder(store: Arc<S>) -> Builder<S> {
        Builder::new(store)
    }

    /// Creates agent `name` (1 to 64 ASCII letters, digits, `-` and `_`, as a bus
    /// [`Name`]) of kind `kind`, with `state`, or the kind's default state.
    pub async fn create(
        &self,
        name: &str,
        kind: &str,
        state: Option<serde_json::Value>,
    ) -> Result<AgentStatus, SessionError> {
        Name::new(name)?;
        let handler = self.inner.handler(kind)?;
        let bad = |reason: String| SessionError::BadState {
            agent: name.to_owned(),
            kind: kind.to_owned(),
            reason: echo::reason(&reason),
        };
        let state = match state {
            Some(state) => handler.check(&state).map(|()| state).map_err(bad)?,
            None => handler.initial().map_err(bad)?,
        };
        let exists = || SessionError::Exists(name.to_owned());
        self.inner.open()?;
        if self.inner.has(name) {
            return Err(exists());
        }
        let place = Place::take(&self.inner.census, name, kind)?;
        // With leases, the new agent's is claimed, and let go of unless the agent is created.
        let claimed = match &self.inner.leases {
            Some(leases) => {
                let now = self.inner.clock.now_ms();
                Some(leases.claim(&self.inner.store, name, now).await?)
            }
            None => None,
        };
        // Among the agents only once it is in the store: nothing can reach it before.
        let slot = Slot::new(name, record::Record::new(kind.to_owned(), state), None);
        let mut agent = slot.agent.lock().await;
        match self.inner.save(name, &mut agent).await {
            Err(SessionError::Concurrent(_)) => return Err(exists()),
            saved => saved?,
        }
        if !self.inner.insert(&slot) {
            return Err(exists());
        }
        place.keep();
        if let Some(claimed) = claimed {
            claimed.keep();
        }
        self.inner.emit(AgentEvent::Created {
            agent: name.to_owned(),
            kind: kind.to_owned(),
        });
        Ok(agent.status(name))
    }

    /// Queues `task` for `agent`; returns its id. Fails at once if the agent's queue is full
    /// or it is stopped, or if the task's name is longer than [`MAX_NAME`].
    pub async fn schedule(&self, agent: &str, task: TaskSpec) -> Result<u64, SessionError> {
        check_name("task name", &task.name)?;
        let slot = self.inner.owned(agent).await?;
        let mut guard = slot.agent.lock().await;
        let before = guard.record.clone();
        let task = self.inner.enqueue(&mut guard, agent, task)?;
        let mut queued = vec![self.inner.queued(&guard, agent, &task)];
        self.inner
            .commit(&slot, &mut guard, None, &mut queued, Some(before))
            .await?;
        Ok(task.id)
    }

    /// Sends `agent` mail: a task named `mail` whose input is the message's payload (JSON)
    /// and whose priority is the message's. Mail at or above the priority the agent sleeps
    /// for wakes it. Returns the task's id.
    pub async fn mail(&self, agent: &str, message: Message) -> Result<u64, SessionError> {
        let input: serde_json::Value = message.decode().map_err(|e| SessionError::BadMail {
            agent: echo::name(agent),
            reason: echo::reason(&e.to_string()),
        })?;
        let priority = message.priority();
        let slot = self.inner.owned(agent).await?;
        let mut guard = slot.agent.lock().await;
        let before = guard.record.clone();
        let spec = TaskSpec::new("mail").input(input).priority(priority);
        let task = self.inner.enqueue(&mut guard, agent, spec)?;
        let mut queued = vec![self.inner.queued(&guard, agent, &task)];
        let urgent = matches!(&guard.record.status,
            Status::Sleeping { sleep, .. } if sleep.mail.is_some_and(|at_least| priority >= at_least));
        let woken_by =
            (urgent && self.inner.wake_up(agent, &mut guard)).then_some(Wake::Mail { priority });
        self.inner
            .commit(&slot, &mut guard, woken_by, &mut queued, Some(before))
            .await?;
        Ok(task.id)
    }

    /// Puts `agent` to sleep: it starts no task until `sleep` says it wakes (its running
    /// tasks finish). A sleeping agent's new sleep replaces its old one. An event name longer
    /// than [`MAX_NAME`] is refused.
    pub async fn sleep(&self, agent: &str, sleep: Sleep) -> Result<(), SessionError> {
        for event in &sleep.events {
            check_name("event name", event)?;
        }
        let slot = self.inner.owned(agent).await?;
        let mut guard = slot.agent.lock().await;
        if guard.record.status == Status::Stopped {
            return Err(SessionError::Stopped(agent.to_owned()));
        }
        let before = guard.record.clone();
        self.inner.fall_asleep(agent, &mut guard, sleep);
        self.inner
            .commit(&slot, &mut guard, None, &mut Vec::new(), Some(before))
            .await
    }

    /// Wakes `agent`; returns whether it was sleeping.
    pub async fn wake(&self, agent: &str) -> Result<bool, SessionError> {
        let slot = self.inner.owned(agent).await?;
        let mut guard = slot.agent.lock().await;
        if guard.record.status == Status::Stopped {
            return Err(SessionError::Stopped(agent.to_owned()));
        }
        let before = guard.record.clone();
        let woke = self.inner.wake_up(agent, &mut guard);
        let woken_by = woke.then_some(Wake::Request);
        self.inner
            .commit(&slot, &mut guard, woken_by, &mut Vec::new(), Some(before))
            .await?;
        Ok(woke)
    }

    /// Signals the event `event`: wakes every agent sleeping on it; returns how many. An agent
    /// whose record cannot be written sleeps on, and the others wake all the same: the call
    /// then fails with the first such error.
    pub async fn signal(&self, event: &str) -> Result<usize, SessionError> {
        let mut woken = 0;
        let mut failed = None;
        for name in self.inner.sleepers(event) {
            let slot = match self.inner.load(&name).await {
                Ok(Some(slot)) => slot,
                Ok(None) => continue, // lost to another process meanwhile
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            let mut guard = slot.agent.lock().await;
            let sleeps_on_it = matches!(&guard.record.status,
                Status::Sleeping { sleep, .. } if sleep.events.iter().any(|e| e == event));
            if !sleeps_on_it {
                continue;
            }
            let before = guard.record.clone();
            self.inner.wake_up(&name, &mut guard);
            let woken_by = Some(Wake::Event {
                event: event.to_owned(),
            });
            match self
                .inner
                .commit(&slot, &mut guard, woken_by, &mut Vec::new(), Some(before))
                .await
            {
                Ok(()) => woken += 1,
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        failed.map_or(Ok(woken), Err)
    }

    /// Queues `task` for `agent` each time `schedule` comes due, from now on (waking it if it
    /// sleeps); returns when it first comes due (ms since the Unix epoch), if ever.
    ///
    /// Refused if it would come due more often than [`AgentLimits::min_period`], if the agent has
    /// [`AgentLimits::schedules`] already, or if the task's name is longer than [`MAX_NAME`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use plan_agents::schedule::Schedule;
    /// use plan_agents::session::{Agents, SessionError, TaskSpec, Turn};
    /// use plan_runtime::prelude::*;
    /// use plan_state::store::InMemory;
    ///
    /// async fn tick(turn: Turn<()>) -> Turn<()> { turn }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let agents = Agents::builder(Arc::new(InMemory::new()))
    ///     .kind("clock", plan! { tick })
    ///     .start()
    ///     .await?;
    /// agents.create("clock", "clock", None).await?;
    /// let every_ms = Schedule::every(Duration::from_millis(1)).unwrap();
    /// let refused = agents.every("clock", every_ms, TaskSpec::new("tick")).await;
    /// assert!(matches!(refused, Err(SessionError::TooFrequent { .. })));
    /// let every_minute = Schedule::every(Duration::from_secs(60)).unwrap();
    /// assert!(agents.every("clock", every_minute, TaskSpec::new("tick")).await?.is_some());
    /// # Ok::<_, SessionError>(())
    /// # }).unwrap();
    /// ```
    pub async fn every(
        &self,
        agent: &str,
        schedule: Schedule,
        task: TaskSpec,
    ) -> Result<Option<u64>, SessionError> {
        check_name("task name", &task.name)?;
        let slot = self.inner.owned(agent).await?;
        let mut guard = slot.agent.lock().await;
        if guard.record.status == Status::Stopped {
            return Err(SessionError::Stopped(agent.to_owned()));
        }
        let limits = &self.inner.limits;
        if guard.record.schedules.len() >= limits.schedules {
            return Err(SessionError::TooManySchedules {
                agent: agent.to_owned(),
                limit: limits.schedules,
            });
        }
        let now = self.inner.clock.now_ms();
        if let Some(gap) = schedule.gap_under(limits.min_period, now) {
            return Err(SessionError::TooFrequent {
                agent: agent.to_owned(),
                schedule: echo::name(&schedule.to_string()),
                gap,
                min: limits.min_period,
            });
        }
        let before = guard.record.clone();
        let next_at = schedule.next_after(now);
        guard.record.schedules.push(Recurring {
            schedule,
            task,
            next_at,
        });
        self.inner
            .commit(&slot, &mut guard, None, &mut Vec::new(), Some(before))
            .await?;
        Ok(next_at)
    }

    /// Stops `agent` for good: its running attempts are cancelled, and those and its queued
    /// tasks dead-lettered, to be read with [`Agents::dead_tasks`].
    pub async fn stop(&self, agent: &str) -> Result<(), SessionError> {
        let slot = self.inner.owned(agent).await?;
        let mut guard = slot.agent.lock().await;
        if guard.record.status == Status::Stopped {
            return Ok(());
        }
        self.inner.stop(&slot, &mut guard).await
    }

    /// Where `agent` is.
    pub async fn status(&self, agent: &str) -> Result<AgentStatus, SessionError> {
        self.inner.open()?;
        // Out of memory, it is as it was when it left: no need to read it back.
        if let Some(status) = self.inner.unloaded_status(agent) {
            return Ok(status);
        }
        let slot = self.inner.owned(agent).await?;
        let guard = slot.agent.lock().await;
        Ok(guard.status(agent))
    }

    /// `agent`'s state, as its last turn left it.
    pub async fn state(&self, agent: &str) -> Result<serde_json::Value, SessionError> {
        let slot = self.inner.owned(agent).await?;
        let guard = slot.agent.lock().await;
        Ok(guard.record.state.clone())
    }

    /// Every agent, by name, each as it is when read (one after another, not all at one
    /// instant).
    pub async fn snapshot(&self) -> Result<Snapshot, SessionError> {
        self.inner.open()?;
        let (slots, mut agents) = self.inner.slots_and_unloaded();
        for slot in slots {
            agents.push(slot.agent.lock().await.status(&slot.name));
        }
        agents.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Snapshot {
            at_ms: self.inner.clock.now_ms(),
            agents,
            resident_bytes: snapshot::resident_bytes(),
        })
    }

    /// `agent`'s dead tasks, oldest first.
    pub async fn dead_tasks(&self, agent: &str) -> Result<Vec<DeadTask>, SessionError> {
        self.inner.owned(agent).await?;
        let store = &self.inner.store;
        let mut dead = Vec::new();
        for key in store.keys(&record::dead_prefix(agent)).await? {
            if let Some(stored) = store.get(&key).await? {
                dead.push(serde_json::from_value(stored.value).map_err(|e| {
                    SessionError::Corrupt {
                        agent: agent.to_owned(),
                        reason: echo::reason(&format!("dead task `{key}`: {e}")),
                    }
                })?);
            }
        }
        Ok(dead)
    }

    /// Queues `agent`'s dead tasks again, oldest first, each with a new id and its attempts
    /// counted afresh, as many as its queue has room for; returns how many.
    pub async fn replay_dead_tasks(&self, agent: &str) -> Result<usize, SessionError> {
        let slot = self.inner.owned(agent).await?;
        // Read under the agent's lock: two replays at once cannot both take a dead task.
        let mut guard = slot.agent.lock().await;
        let dead = self.dead_tasks(agent).await?;
        let before = guard.record.clone();
        let mut replayed = Vec::new();
        for dead in dead {
            let spec = TaskSpec::new(dead.task.name.clone())
                .input(dead.task.input.clone())
                .priority(dead.task.priority);
            match self.inner.enqueue(&mut guard, agent, spec) {
                Ok(_) => replayed.push(dead.task.id),
                Err(SessionError::QueueFull { .. }) => break,
                Err(e) => return Err(e),
            }
        }
        self.inner
            .commit(&slot, &mut guard, None, &mut Vec::new(), Some(before))
            .await?;
        // Queued first, then forgotten: a crash in between leaves a task twice, never none.
        for id in &replayed {
            self.inner
                .store
                .delete(&record::dead_key(agent, *id)?)
                .await?;
        }
        Ok(replayed.len())
    }

    /// Every [`AgentEvent`] from now on. A receiver that falls more than 1,024 events behind is
    /// told how many it missed (`RecvError::Lagged`); the tracing events have them all.
    pub fn events(&self) -> broadcast::Receiver<AgentEvent> {
        self.inner.subscribe()
    }

    /// Stops everything at once, as a crash would: running attempts are cancelled where they
    /// are and nothing more is written, so that the store holds what a crash would have left.
    /// For tests of restarts, and for a process about to exit. Every later call fails with
    /// [`SessionError::ShutDown`].
    ///
    /// With a [lease](Builder::lease), the agents' leases are then released (the only
    /// writes): another process takes them over at its next scan, without waiting for them
    /// to expire.
    pub async fn shutdown(&self) {
        self.inner.shutdown().await;
    }
}
