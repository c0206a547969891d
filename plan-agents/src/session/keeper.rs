//! The keeper of a process's leases ([`Builder::lease`](super::Builder::lease)): a task that
//! renews them, gives up the agents whose leases it could not renew in time, and takes over
//! the agents whose leases expired.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use plan_state::store::Store;
use tokio::time::Instant;

use super::engine::{Inner, lock};
use super::{AgentEvent, SessionError, record};
use crate::bus::Name;
use crate::echo;

/// Leases renewed at once, each a write to the store.
const RENEWALS: usize = 32;

/// Why an agent whose lease was not renewed in time is lost.
const RAN_OUT: &str = "its lease ran out before this process could renew it";

/// `period` after `now`; a day, for a period past the end of tokio's clock.
fn later(now: Instant, period: Duration) -> Instant {
    now.checked_add(period)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

impl<S: Store + 'static> Inner<S> {
    /// Spawns the keeper, if the agents have leases. It holds the agents weakly: it ends with
    /// them.
    pub(super) fn keep_leases(self: &Arc<Self>) {
        let Some(leases) = &self.leases else { return };
        let (renew, scan) = (leases.lease.renews_every(), leases.lease.scans_every());
        let agents = Arc::downgrade(self);
        let keeper = tokio::spawn(async move {
            let now = Instant::now();
            let (mut renew_at, mut scan_at) = (later(now, renew), later(now, scan));
            loop {
                let wake = {
                    let Some(inner) = agents.upgrade() else {
                        return;
                    };
                    let deadline = inner.leases.as_ref().and_then(|l| l.next_deadline());
                    let deadline = deadline.map(|ms| inner.clock.instant_at(ms));
                    deadline.map_or(renew_at.min(scan_at), |d| d.min(renew_at).min(scan_at))
                };
                tokio::time::sleep_until(wake).await;
                let Some(inner) = agents.upgrade() else {
                    return;
                };
                let now = Instant::now();
                let (renewing, scanning) = (now >= renew_at, now >= scan_at);
                // Boxed: between rounds, the keeper holds only its times.
                Box::pin(inner.round(renewing, scanning)).await;
                if renewing {
                    renew_at = later(now, renew);
                }
                if scanning {
                    scan_at = later(now, scan);
                }
            }
        });
        *lock(&leases.keeper) = Some(keeper.abort_handle());
    }

    /// One round of the keeper: gives up the agents whose deadlines passed, then renews the
    /// leases and looks for agents to take over, if it is time to.
    async fn round(self: &Arc<Self>, renewing: bool, scanning: bool) {
        let Some(leases) = &self.leases else { return };
        let _round = leases.round.lock().await;
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        for name in leases.overdue(self.clock.now_ms()) {
            self.lose_later(&name, RAN_OUT);
        }
        if renewing {
            self.renew().await;
        }
        if scanning {
            self.scan().await;
        }
    }

    /// Renews every lease this process holds. A lease another process took, or that could not
    /// be renewed by its deadline, loses its agent; one the store failed to renew before then
    /// is tried again next round.
    async fn renew(self: &Arc<Self>) {
        let Some(leases) = &self.leases else { return };
        let now = self.clock.now_ms();
        let renewals = leases.owned().into_iter().map(|(name, version, deadline)| {
            let until = self.clock.instant_at(deadline);
            async move {
                let renewal = leases.renew(&*self.store, &name, version, now);
                let outcome = tokio::time::timeout_at(until, renewal).await;
                (name, outcome)
            }
        });
        let outcomes: Vec<_> = futures::stream::iter(renewals)
            .buffer_unordered(RENEWALS)
            .collect()
            .await;
        for (name, outcome) in outcomes {
            match outcome {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(owner))) => {
                    let by = owner.map_or_else(
                        || "deleted".to_owned(),
                        |o| format!("taken by `{}`", echo::name(&o)),
                    );
                    self.lose_later(&name, &format!("its lease was {by}"));
                }
                Ok(Err(e)) => self.emit(AgentEvent::Error {
                    agent: name,
                    error: format!("its lease was not renewed (tried again next round): {e}"),
                }),
                Err(_) => self.lose_later(&name, RAN_OUT),
            }
        }
    }

    /// Takes over every agent of the store that no process owns: with no lease, or one that
    /// expired, or one that names this process.
    async fn scan(self: &Arc<Self>) {
        let Some(leases) = &self.leases else { return };
        let keys = match self.store.keys(record::PREFIX).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "agents not looked for: the store failed");
                return;
            }
        };
        for key in keys {
            let Some(name) = record::agent_of(&key) else {
                continue;
            };
            if Name::new(name).is_err()
                || lock(&self.agents).contains_key(name)
                || leases.holds(name)
            {
                continue;
            }
            match self.take_over(name).await {
                Ok(()) | Err(SessionError::Owned { .. } | SessionError::Exists(_)) => {}
                Err(e) => self.emit(AgentEvent::Error {
                    agent: name.to_owned(),
                    error: format!("it was not taken over: {e}"),
                }),
            }
        }
    }

    /// Claims agent `name`'s lease, then loads and runs it as a restart would.
    async fn take_over(self: &Arc<Self>, name: &str) -> Result<(), SessionError> {
        let Some(leases) = &self.leases else {
            return Ok(());
        };
        let claimed = leases.claim(&self.store, name, self.clock.now_ms()).await?;
        // Not loaded, the lease is let go of (when `claimed` is dropped).
        let Some((record, version)) = self.read(name).await? else {
            return Ok(()); // deleted since it was listed
        };
        let (slot, events) = self.adopt(name, record, version).await?;
        let from = claimed.keep();
        self.resume(slot, events, from).await;
        Ok(())
    }
}
