//! The ends of an agent's life in a process: restored after a restart (or taken over from
//! another process), stopped for good, lost to another process, or cut off by a shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use plan_state::store::Store;

use super::engine::{Agent, Inner, Slot, lock};
use super::record::{self, Record, Status};
use super::{AgentEvent, SessionError};
use crate::echo;

/// How many times a takeover reads an agent's record again when the process that owned it
/// wrote it meanwhile (a write it had begun before its lease ran out).
const REREADS: usize = 3;

impl<S: Store + 'static> Inner<S> {
    /// Agent `name`'s record and its version, if it has one. Fails if the record cannot be
    /// read or names a kind not registered.
    pub async fn read(&self, name: &str) -> Result<Option<(Record, u64)>, SessionError> {
        let Some(stored) = self.store.get(&record::record_key(name)?).await? else {
            return Ok(None);
        };
        // What the store holds may be anything: a reason quoting it is cut short.
        let corrupt = |reason: String| SessionError::Corrupt {
            agent: echo::name(name),
            reason: echo::reason(&reason),
        };
        let record: Record =
            serde_json::from_value(stored.value).map_err(|e| corrupt(e.to_string()))?;
        self.handler(&record.kind)
            .map_err(|e| corrupt(format!("it is a `{}`: {e}", record.kind)))?;
        Ok(Some((record, stored.version)))
    }

    /// Takes agent `name`, whose record was read at `version`, among the agents as a restart
    /// does: every attempt that was running when its process stopped failed, and the record
    /// says so in the store before the agent is among the others. Nothing runs yet
    /// ([`Inner::resume`]); the events to send then.
    ///
    /// With leases, a record that its last owner wrote meanwhile is read again.
    pub async fn adopt(
        &self,
        name: &str,
        mut record: Record,
        mut version: u64,
    ) -> Result<(Arc<Slot>, Vec<AgentEvent>), SessionError> {
        let mut rereads = 0;
        loop {
            let slot = Slot::new(name, record, Some(version));
            let mut agent = slot.agent.lock().await;
            let mut events = self.recover(name, &mut agent);
            match self.write_recovered(name, &mut agent, &mut events).await {
                Ok(()) => {
                    if !self.insert(&slot) {
                        return Err(SessionError::Exists(name.to_owned()));
                    }
                    lock(&self.census).restore(&slot.kind);
                    if let Status::Sleeping { sleep, .. } = &agent.record.status {
                        self.listen(name, sleep);
                    }
                    drop(agent);
                    return Ok((slot, events));
                }
                Err(SessionError::Concurrent(_)) if self.leases.is_some() && rereads < REREADS => {
                    rereads += 1;
                    (record, version) = self
                        .read(name)
                        .await?
                        .ok_or_else(|| SessionError::NoAgent(echo::name(name)))?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs an agent [`Inner::adopt`] took in: sends `events`, starts its tasks, arms its
    /// timer. With leases, tells first that this process took it over (`from` the process
    /// whose lease expired, if another's).
    pub async fn resume(
        self: &Arc<Self>,
        slot: Arc<Slot>,
        mut events: Vec<AgentEvent>,
        from: Option<String>,
    ) {
        if self.leases.is_some() {
            self.emit(AgentEvent::TakenOver {
                agent: slot.name.clone(),
                from,
            });
        }
        let mut agent = slot.agent.lock().await;
        let started = self
            .commit(&slot, &mut agent, None, &mut events, None)
            .await;
        drop(agent);
        self.report(&slot.name, events, started);
    }

    /// After a restart: every attempt that was running when the process stopped failed. The
    /// events to send for them; nothing is written yet.
    fn recover(&self, name: &str, agent: &mut Agent) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        for queued in agent.record.tasks.iter_mut().filter(|q| q.running) {
            let error = format!("the process stopped during attempt {}", queued.task.attempt);
            let dead = queued.task.attempt >= self.limits.max_attempts;
            queued.running = false;
            queued.error = Some(error.clone());
            agent.stats.failed += 1;
            agent.stats.dead += u64::from(dead);
            events.push(AgentEvent::TaskFailed {
                agent: name.to_owned(),
                task: queued.task.id,
                name: queued.task.name.clone(),
                attempt: queued.task.attempt,
                error,
                dead,
            });
        }
        agent.shown = agent.state();
        events
    }

    /// Stops `agent`: every task it has, running or queued, is dead-lettered, then its
    /// running attempts are cancelled. Until every dead letter is written nothing changes,
    /// so a stop that fails can be tried again.
    pub async fn stop(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        agent: &mut Agent,
    ) -> Result<(), SessionError> {
        let mut events = Vec::new();
        for queued in agent.record.tasks.clone() {
            let error = if queued.running {
                format!(
                    "the agent was stopped during attempt {}",
                    queued.task.attempt
                )
            } else {
                "the agent was stopped before the task ran".to_owned()
            };
            events.push(AgentEvent::TaskFailed {
                agent: slot.name.clone(),
                task: queued.task.id,
                name: queued.task.name.clone(),
                attempt: queued.task.attempt,
                error: error.clone(),
                dead: true,
            });
            self.bury(&slot.name, queued.task, error).await?;
        }
        self.aborted(agent.running.len());
        for (_, run) in agent.running.drain() {
            run.abort();
        }
        agent.stats.dead += events.len() as u64;
        agent.record.tasks.clear();
        slot.room.notify_waiters();
        self.wake_up(&slot.name, agent);
        agent.record.status = Status::Stopped;
        if agent.holds_active {
            self.release(agent);
        }
        let stopped = self.commit(slot, agent, None, &mut events, None).await;
        for event in events {
            self.emit(event);
        }
        stopped
    }

    /// The agent of `slot` is this process's no more (`reason`: why): it leaves the agents,
    /// and what runs for it stops.
    pub fn lose(self: &Arc<Self>, slot: &Arc<Slot>, agent: &mut Agent, reason: &str) {
        if self.forget(slot) {
            self.emit(AgentEvent::Lost {
                agent: slot.name.clone(),
                reason: reason.to_owned(),
            });
        }
        self.halt(slot, agent);
    }

    /// [`Inner::lose`] for agent `name`, whose lock may be held: it leaves the agents at once,
    /// and what runs for it stops as soon as its lock is free.
    pub fn lose_later(self: &Arc<Self>, name: &str, reason: &str) {
        let agents = lock(&self.agents);
        let Some(slot) = agents.get(name).cloned() else {
            // Under the map's lock: an agent out of memory cannot be read back in between,
            // which would leave it in memory with its lease forgotten.
            let forgot = self.forget_unloaded(name);
            if !forgot && let Some(leases) = &self.leases {
                // A lease claimed for an agent being created: the creation fails to save it.
                leases.forget(name);
            }
            drop(agents);
            if forgot {
                self.emit(AgentEvent::Lost {
                    agent: name.to_owned(),
                    reason: reason.to_owned(),
                });
            }
            return;
        };
        drop(agents);
        if !self.forget(&slot) {
            return;
        }
        self.emit(AgentEvent::Lost {
            agent: name.to_owned(),
            reason: reason.to_owned(),
        });
        let inner = self.clone();
        tokio::spawn(async move {
            let mut agent = slot.agent.lock().await;
            inner.halt(&slot, &mut agent);
        });
    }

    /// Takes the agent of `slot` out of the agents, and its lease out of those held; false if
    /// it was not among them (lost already).
    fn forget(&self, slot: &Arc<Slot>) -> bool {
        let mut agents = lock(&self.agents);
        if !agents
            .get(&slot.name)
            .is_some_and(|known| Arc::ptr_eq(known, slot))
        {
            return false;
        }
        agents.remove(&slot.name);
        slot.gone.store(true, Ordering::Release);
        if let Some(leases) = &self.leases {
            leases.forget(&slot.name);
        }
        lock(&self.census).give_back(&slot.kind);
        true
    }

    /// Stops what runs for an agent forgotten: its attempts are cancelled (the next owner
    /// runs them again), its timer, its place among the active agents and its sleep go.
    fn halt(self: &Arc<Self>, slot: &Arc<Slot>, agent: &mut Agent) {
        slot.gone.store(true, Ordering::Release);
        self.aborted(agent.running.len());
        for (_, run) in agent.running.drain() {
            run.abort();
        }
        if let Some(alarm) = agent.alarm.take() {
            alarm.timer.abort();
        }
        if agent.holds_active {
            self.release(agent);
        }
        self.withdraw(&slot.name);
        // Unless this process took the agent back meanwhile (in memory or out of it), it
        // sleeps here no more.
        if !self.has(&slot.name) {
            self.wake_up(&slot.name, agent);
        }
        // Senders waiting for room in its queue find it gone.
        slot.room.notify_waiters();
    }

    /// Stops everything at once, as a crash would, but for the store: nothing more is written
    /// and nothing more starts. With leases, they are released, so that another process may
    /// take the agents over at once.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(sweeper) = lock(&self.sweeper).take() {
            sweeper.abort();
        }
        for slot in self.slots() {
            let mut agent = slot.agent.lock().await;
            self.aborted(agent.running.len());
            for (_, run) in agent.running.drain() {
                run.abort();
            }
            if let Some(alarm) = agent.alarm.take() {
                alarm.timer.abort();
            }
        }
        let Some(leases) = &self.leases else { return };
        // After the round under way, if any: no lease is renewed once released.
        let _round = leases.round.lock().await;
        if let Some(keeper) = lock(&leases.keeper).take() {
            keeper.abort();
        }
        for (name, version) in leases.forget_all() {
            match leases.release(&*self.store, &name, version).await {
                Ok(()) => self.emit(AgentEvent::Released { agent: name }),
                Err(e) => self.emit(AgentEvent::Error {
                    agent: name,
                    error: format!("its lease was not released (it expires by itself): {e}"),
                }),
            }
        }
    }
}
