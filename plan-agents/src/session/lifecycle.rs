//! The ends of an agent's life in a process: restored after a restart, stopped for good, or
//! cut off by a shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use plan_state::store::Store;

use super::engine::{Agent, Inner, Slot};
use super::record::Status;
use super::{AgentEvent, SessionError};

impl<S: Store + 'static> Inner<S> {
    /// After a restart: every attempt that was running when the process stopped failed. The
    /// events to send for them; nothing is written yet.
    pub fn recover(&self, name: &str, agent: &mut Agent) -> Vec<AgentEvent> {
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
        if let Status::Sleeping { sleep, .. } = &agent.record.status {
            self.listen(name, &sleep.events);
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

    /// Stops everything at once, as a crash would, but for the store: nothing more is written
    /// and nothing more starts.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        for slot in self.slots() {
            let mut agent = slot.agent.lock().await;
            for (_, run) in agent.running.drain() {
                run.abort();
            }
            if let Some(alarm) = agent.alarm.take() {
                alarm.timer.abort();
            }
        }
    }
}
