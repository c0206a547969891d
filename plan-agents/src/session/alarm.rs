//! An agent's timer: one at a time, for the soonest of its wake time, its schedules' next
//! times and, after a record that could not be written, the next try.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use plan_state::store::Store;
use tokio::task::AbortHandle;

use super::engine::{Agent, Inner, Slot};
use super::record::Status;
use super::{AgentEvent, TaskSpec, Wake};

/// An armed timer.
pub(crate) struct Alarm {
    /// When it fires, in ms since the epoch.
    at: u64,
    /// Which of the agent's timers it is: one that fires after another replaced it (its
    /// abort came too late) does nothing.
    generation: u64,
    pub timer: AbortHandle,
}

/// How long after the `failures`th failed write of a record in a row it is tried again:
/// 100 ms, doubling, at most 10 s.
fn backoff(failures: u32) -> u64 {
    100u64
        .saturating_mul(1 << failures.saturating_sub(1).min(7))
        .min(10_000)
}

impl<S: Store + 'static> Inner<S> {
    /// Sets the agent's timer for the soonest of its wake time, its schedules and a retry of
    /// a failed write.
    pub(super) fn arm(self: &Arc<Self>, slot: &Arc<Slot>, agent: &mut Agent) {
        let now = self.clock.now_ms();
        let retry = (agent.unsaved > 0).then(|| now.saturating_add(backoff(agent.unsaved)));
        let wake = match agent.record.status {
            Status::Sleeping { wake_at, .. } => wake_at,
            _ => None,
        };
        let schedules = agent
            .record
            .schedules
            .iter()
            .filter(|_| agent.record.status != Status::Stopped)
            .filter_map(|r| r.next_at);
        let due = if self.closed.load(Ordering::Acquire) || slot.gone.load(Ordering::Acquire) {
            None
        } else {
            wake.into_iter().chain(schedules).chain(retry).min()
        };
        if agent.alarm.as_ref().map(|a| a.at) == due {
            return;
        }
        if let Some(alarm) = agent.alarm.take() {
            alarm.timer.abort();
        }
        let Some(at) = due else { return };
        agent.alarms += 1;
        let generation = agent.alarms;
        // A timer holds the agents weakly: agents nobody uses go away with their timers.
        let (inner, name, when) = (
            Arc::downgrade(self),
            slot.name.clone(),
            self.clock.instant_at(at),
        );
        let timer = tokio::spawn(async move {
            tokio::time::sleep_until(when).await;
            if let Some(inner) = inner.upgrade() {
                // Boxed: a sleeping agent's timer task holds only its sleep, not the whole
                // of what it does when it fires (which includes the store's writes).
                Box::pin(inner.alarm(&name, generation)).await;
            }
        });
        agent.alarm = Some(Alarm {
            at,
            generation,
            timer: timer.abort_handle(),
        });
    }

    /// Timer `generation` of agent `name` fired: queues the tasks of due schedules, wakes the
    /// agent if its time came, and writes its record (again, after a failed write).
    async fn alarm(self: &Arc<Self>, name: &str, generation: u64) {
        let Ok(slot) = self.slot(name) else { return };
        let mut guard = slot.agent.lock().await;
        let agent = &mut *guard;
        if agent.alarm.as_ref().map(|a| a.generation) != Some(generation) {
            return; // replaced while it waited for the lock
        }
        agent.alarm = None;
        let now = self.clock.now_ms();
        let mut events = Vec::new();
        let mut woken_by = None;
        let due: Vec<TaskSpec> = agent
            .record
            .schedules
            .iter_mut()
            .filter_map(|r| {
                let at = r.next_at.filter(|at| *at <= now)?;
                // From the time it was due, not now: a late timer does not shift the rest.
                r.next_at = r.schedule.following(at, now);
                Some(r.task.clone())
            })
            .collect();
        for spec in due {
            match self.enqueue(agent, name, spec) {
                Ok(task) => {
                    events.push(self.queued(agent, name, &task));
                    woken_by = Some(Wake::Schedule { task: task.name });
                }
                Err(e) => events.push(AgentEvent::Error {
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
        let settled = self.commit(&slot, agent, woken_by, &mut events, None).await;
        drop(guard);
        self.report(name, events, settled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_is_tried_again_sooner_then_later() {
        let waits: Vec<u64> = (1..=10).map(backoff).collect();
        assert_eq!(
            waits,
            [
                100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000, 10_000
            ]
        );
    }
}
