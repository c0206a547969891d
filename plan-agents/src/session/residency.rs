//! Idle agents out of memory ([`Builder::unload_idle_after`](super::Builder::unload_idle_after)):
//! an agent with nothing to do leaves memory, its record staying in the store, and is read
//! back the first time something needs more of it than its status.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use plan_runtime::budget::Budget;
use plan_state::store::Store;

use super::engine::{Agent, Inner, Slot, lock};
use super::{AgentEvent, AgentStatus, SessionError};
use crate::echo;

/// What is kept in memory of an agent that left it.
pub(crate) struct Unloaded {
    /// Its status when it left, which nothing changes until it is back.
    pub status: AgentStatus,
    /// The version of its record in the store when it left.
    pub version: Option<u64>,
    /// Its budget as spent in this process (its period runs on).
    pub budget: Option<Arc<Budget>>,
}

impl<S: Store + 'static> Inner<S> {
    /// Starts the task that unloads the agents idle for `after`, looking every half of it.
    pub(super) fn keep_unloading(self: &Arc<Self>) {
        let Some(after) = self.unload_after else {
            return;
        };
        let every = (after / 2).max(Duration::from_millis(1));
        // Held weakly, as the timers are: agents nobody uses go away with it.
        let agents = Arc::downgrade(self);
        let sweeper = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await; // the first is at once
            loop {
                ticks.tick().await;
                let Some(inner) = agents.upgrade() else {
                    return;
                };
                inner.unload_idle(after);
            }
        });
        *lock(&self.sweeper) = Some(sweeper.abort_handle());
    }

    /// Takes out of memory every agent idle for `after` or longer that nothing else holds.
    fn unload_idle(&self, after: Duration) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let now = self.clock.now_ms();
        let after = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        let mut agents = lock(&self.agents);
        let idle: Vec<String> = agents
            .iter()
            // Held by nobody else (the map hands out every other handle, under its lock):
            // no call, turn or timer can be on its way to the agent.
            .filter(|(_, slot)| Arc::strong_count(slot) == 1)
            .filter(|(_, slot)| {
                let Ok(mut agent) = slot.agent.try_lock() else {
                    return false;
                };
                // First seen here: idle from now on, if nothing changes it.
                let since = *agent.changed_ms.get_or_insert(now);
                agent.unloadable() && now.saturating_sub(since) >= after
            })
            .map(|(name, _)| name.clone())
            .collect();
        let mut unloaded = lock(&self.unloaded);
        for name in idle {
            let Some(slot) = agents.remove(&name) else {
                continue;
            };
            // The only handle (checked above, under the same lock).
            let Ok(slot) = Arc::try_unwrap(slot) else {
                continue;
            };
            let agent = slot.agent.into_inner();
            unloaded.insert(name.clone(), agent.unload(&name));
            self.emit(AgentEvent::Unloaded { agent: name });
        }
    }

    /// The status of agent `name`, if it is out of memory.
    pub(super) fn unloaded_status(&self, name: &str) -> Option<AgentStatus> {
        lock(&self.unloaded)
            .get(name)
            .map(|kept| kept.status.clone())
    }

    /// The agents in memory, and the statuses of those out of it, taken at one instant: an
    /// agent read back or taken out later is in one list or the other, never in neither.
    pub(super) fn slots_and_unloaded(&self) -> (Vec<Arc<Slot>>, Vec<AgentStatus>) {
        let agents = lock(&self.agents);
        let unloaded = lock(&self.unloaded)
            .values()
            .map(|kept| kept.status.clone())
            .collect();
        (agents.values().cloned().collect(), unloaded)
    }

    /// Whether agent `name` is this process's, in memory or out of it.
    pub(super) fn has(&self, name: &str) -> bool {
        let agents = lock(&self.agents);
        agents.contains_key(name) || lock(&self.unloaded).contains_key(name)
    }

    /// Agent `name`, read back from the store if it was out of memory; `None` if it is not
    /// among this process's agents at all.
    pub(super) async fn load(&self, name: &str) -> Result<Option<Arc<Slot>>, SessionError> {
        // Once shut down, nothing more comes into memory.
        self.open()?;
        loop {
            let left_at = {
                let agents = lock(&self.agents);
                if let Some(slot) = agents.get(name) {
                    return Ok(Some(slot.clone()));
                }
                match lock(&self.unloaded).get(name) {
                    Some(kept) => kept.version,
                    None => return Ok(None),
                }
            };
            let read = self.read(name).await?;
            self.open()?; // shut down while it was read
            let mut agents = lock(&self.agents);
            if let Some(slot) = agents.get(name) {
                return Ok(Some(slot.clone())); // another call read it back meanwhile
            }
            let mut unloaded = lock(&self.unloaded);
            match unloaded.get(name) {
                None => return Ok(None), // lost to another process meanwhile
                // Back and out again meanwhile: read what it left this time.
                Some(kept) if kept.version != left_at => continue,
                Some(_) => {}
            }
            // Written or deleted by someone else while it was out: as a write of its record
            // would, this fails rather than take either.
            let Some((record, version)) = read.filter(|(_, version)| Some(*version) == left_at)
            else {
                drop((unloaded, agents));
                return Err(SessionError::Concurrent(echo::name(name)));
            };
            let Some(kept) = unloaded.remove(name) else {
                return Ok(None); // found just above, under the same lock
            };
            let slot = Slot::with(name, Agent::reload(record, version, kept));
            agents.insert(name.to_owned(), slot.clone());
            drop((unloaded, agents));
            self.emit(AgentEvent::Loaded {
                agent: name.to_owned(),
            });
            return Ok(Some(slot));
        }
    }

    /// Agent `name`, out of memory, is this process's no more: what was kept of it goes.
    /// False if it was not out of memory.
    pub(super) fn forget_unloaded(&self, name: &str) -> bool {
        let Some(kept) = lock(&self.unloaded).remove(name) else {
            return false;
        };
        self.unlisten(name, &kept.status.wakes_on);
        if let Some(leases) = &self.leases {
            leases.forget(name);
        }
        lock(&self.census).give_back(&kept.status.kind);
        true
    }
}
