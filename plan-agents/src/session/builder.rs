//! [`Builder`]: the kinds of agent, the limits and the store of an [`Agents`], which it
//! starts, restoring every agent the store keeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use plan_runtime::Plan;
use plan_state::store::Store;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::clock::Clock;
use super::engine::{Inner, Slot, lock};
use super::kind::{Handler, IntoKind, Typed};
use super::record::{self, Record};
use super::{AgentLimits, Agents, SessionError, Turn};
use crate::bus::Name;
use crate::echo;

/// Builds an [`Agents`]: see [`Agents::builder`].
pub struct Builder<S> {
    store: Arc<S>,
    kinds: BTreeMap<String, Arc<dyn Handler>>,
    limits: AgentLimits,
    kind_limits: BTreeMap<String, usize>,
    now: Option<SystemTime>,
}

impl<S: Store + 'static> Builder<S> {
    pub(super) fn new(store: Arc<S>) -> Self {
        Builder {
            store,
            kinds: BTreeMap::new(),
            limits: AgentLimits::default(),
            kind_limits: BTreeMap::new(),
            now: None,
        }
    }

    /// A kind of agent named `kind`, whose tasks a plan runs, each as a [`Turn`] of the
    /// agent's state `St` (a new agent starts from `St::default()`): a plan with no context,
    /// or a [`Kind`](super::Kind) (a plan with its context and the options each turn's run is given).
    /// Registering a kind again replaces it.
    pub fn kind<St, K>(mut self, kind: &str, definition: K) -> Self
    where
        St: Serialize + DeserializeOwned + Default + Send + 'static,
        K: IntoKind<St>,
        K::Plan: Plan<Turn<St>, K::Ctx, Out = Turn<St>> + 'static,
        K::Ctx: Send + Sync + 'static,
    {
        let typed = Typed::<St, K::Plan, K::Ctx>::new(definition.into_kind());
        let handler: Arc<dyn Handler> = Arc::new(typed);
        self.kinds.insert(kind.to_owned(), handler);
        self
    }

    /// The limits on queues, running tasks and attempts ([`AgentLimits::default`] unless set).
    pub fn limits(mut self, limits: AgentLimits) -> Self {
        self.limits = limits;
        self
    }

    /// At most `agents` agents of kind `kind` (registered with [`Builder::kind`]), stopped
    /// ones included; one more is refused with [`SessionError::KindFull`]. Without it, a
    /// kind's agents are limited only by [`AgentLimits::agents`], the limit on all of them.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use plan_agents::session::{Agents, SessionError, Turn};
    /// use plan_runtime::prelude::*;
    /// use plan_state::store::InMemory;
    ///
    /// async fn crawl(turn: Turn<()>) -> Turn<()> { turn }
    /// async fn chat(turn: Turn<()>) -> Turn<()> { turn }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let agents = Agents::builder(Arc::new(InMemory::new()))
    ///     .kind("crawler", plan! { crawl })
    ///     .kind("chat", plan! { chat })
    ///     .kind_limit("crawler", 1)
    ///     .start()
    ///     .await?;
    /// agents.create("crawler-1", "crawler", None).await?;
    /// let second = agents.create("crawler-2", "crawler", None).await;
    /// assert!(matches!(second, Err(SessionError::KindFull { limit: 1, .. })));
    /// agents.create("chat-1", "chat", None).await?; // other kinds are not held back
    /// # Ok::<_, SessionError>(())
    /// # }).unwrap();
    /// ```
    pub fn kind_limit(mut self, kind: &str, agents: usize) -> Self {
        self.kind_limits.insert(kind.to_owned(), agents);
        self
    }

    /// The wall-clock time now, for a test on tokio's paused clock that restarts its agents
    /// at a later time than the real one (wake times and schedules are wall-clock times).
    pub fn now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Starts the agents: every agent the store keeps is restored, as it was, with its state,
    /// its queued tasks, its sleep and its schedules. An attempt that was running when the
    /// process stopped counts as failed: the task is tried again, or dead-lettered after its
    /// last attempt. A wake time or schedule that passed while the process was down fires at
    /// once (a schedule once, however many times it came due).
    ///
    /// Every agent the store keeps is restored, even past [`AgentLimits::agents`] or a kind's
    /// limit (lowered since it was created): then no agent is created until there are fewer.
    ///
    /// Fails, restoring nothing, if a record cannot be read or names a kind not registered,
    /// if a limit is 0, or if a kind's limit names a kind not registered.
    pub async fn start(self) -> Result<Agents<S>, SessionError> {
        let limits = self.limits;
        for (kind, &agents) in &self.kind_limits {
            if agents == 0 {
                return Err(SessionError::BadLimits("kind_limit"));
            }
            if !self.kinds.contains_key(kind) {
                return Err(SessionError::NoKind {
                    kind: echo::name(kind),
                    known: self.kinds.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
        }
        for (value, name) in [
            (limits.agents, "agents"),
            (limits.schedules, "schedules"),
            (limits.queue, "queue"),
            (limits.tasks_per_agent, "tasks_per_agent"),
            (limits.active_agents, "active_agents"),
            (
                usize::try_from(limits.max_attempts).unwrap_or(usize::MAX),
                "max_attempts",
            ),
        ] {
            if value == 0 {
                return Err(SessionError::BadLimits(name));
            }
        }
        let clock = Clock::starting_at(self.now.unwrap_or_else(SystemTime::now));
        let inner = Arc::new(Inner::new(
            self.store,
            self.kinds,
            limits,
            self.kind_limits,
            clock,
        ));
        // First every record is read: one that cannot be is an error before anything changed.
        let mut records = Vec::new();
        for key in inner.store.keys(record::PREFIX).await? {
            let Some(name) = record::agent_of(&key) else {
                continue;
            };
            // What the store holds may be anything: a reason quoting it is cut short.
            let corrupt = |reason: String| SessionError::Corrupt {
                agent: echo::name(name),
                reason: echo::reason(&reason),
            };
            Name::new(name).map_err(|e| corrupt(e.to_string()))?;
            let Some(stored) = inner.store.get(&key).await? else {
                continue; // deleted since it was listed
            };
            let record: Record =
                serde_json::from_value(stored.value).map_err(|e| corrupt(e.to_string()))?;
            inner
                .handler(&record.kind)
                .map_err(|e| corrupt(format!("it is a `{}`: {e}", record.kind)))?;
            records.push((name.to_owned(), record, stored.version));
        }
        // Then each is written back as recovered (the attempts a crash cut off, failed), so
        // that a store that cannot take the writes fails the start before anything runs.
        let mut restored = Vec::new();
        for (name, record, version) in records {
            lock(&inner.census).restore(&record.kind);
            let slot = Slot::new(&name, record, Some(version));
            inner.insert(&slot);
            let mut agent = slot.agent.lock().await;
            let mut events = inner.recover(&name, &mut agent);
            if let Err(e) = inner.write_recovered(&name, &mut agent, &mut events).await {
                drop(agent);
                inner.shutdown().await;
                return Err(e);
            }
            drop(agent);
            restored.push((slot, events));
        }
        // Only then do they run.
        for (slot, mut events) in restored {
            let mut agent = slot.agent.lock().await;
            let started = inner
                .commit(&slot, &mut agent, None, &mut events, None)
                .await;
            drop(agent);
            inner.report(&slot.name, events, started);
        }
        Ok(Agents { inner })
    }
}
