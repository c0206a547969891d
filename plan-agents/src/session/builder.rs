//! [`Builder`]: the kinds of agent, the limits, the store and the lease of an [`Agents`],
//! which it starts, restoring every agent the store keeps (with a lease, every agent no other
//! process owns).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use plan_runtime::Plan;
use plan_state::store::Store;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::clock::Clock;
use super::engine::Inner;
use super::kind::{Handler, IntoKind, Typed};
use super::lease::Leases;
use super::record;
use super::{AgentLimits, Agents, Lease, SessionError, Turn};
use crate::bus::Name;
use crate::echo;

/// Builds an [`Agents`]: see [`Agents::builder`].
pub struct Builder<S> {
    store: Arc<S>,
    kinds: BTreeMap<String, Arc<dyn Handler>>,
    limits: AgentLimits,
    kind_limits: BTreeMap<String, usize>,
    now: Option<SystemTime>,
    lease: Option<Lease>,
    unload_after: Option<Duration>,
}

impl<S: Store + 'static> Builder<S> {
    pub(super) fn new(store: Arc<S>) -> Self {
        Builder {
            store,
            kinds: BTreeMap::new(),
            limits: AgentLimits::default(),
            kind_limits: BTreeMap::new(),
            now: None,
            lease: None,
            unload_after: None,
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

    /// Shares the store's agents with other processes, each agent owned by one process at a
    /// time: the one that holds its [`Lease`]. Without it, this process runs every agent the
    /// store keeps, and must be the only one to.
    ///
    /// * [`Builder::start`] takes every agent whose lease is free, expired or this process's
    ///   own; [`Agents::create`] claims the new agent's lease.
    /// * The process renews its leases every [`Lease::renew_every`], and every
    ///   [`Lease::scan_every`] takes over the agents whose leases expired (or that have none),
    ///   as a restart would: the attempts their owner was running are tried again, a sleeper
    ///   wakes at its time, a schedule keeps its times, queued tasks run.
    /// * A lease it could not renew (the store failed, or it was paused) or that another
    ///   process took makes it give the agent up: its attempts are cancelled, nothing more is
    ///   written for it, and it is an [`AgentEvent::Lost`](super::AgentEvent::Lost).
    /// * [`Agents::shutdown`] releases the leases: others take the agents over at their next
    ///   scan, without waiting for the leases to expire.
    ///
    /// **At most one owner at a time**: an owner gives an agent up a renewal period before
    /// its lease expires by its own clock, and another process takes it only once expired by
    /// its clock; so two processes never run one agent at once while their clocks agree to
    /// within [`Lease::renew_every`]. Should they not, or should the owner be paused past its
    /// time (a write under way, a process stopped), the record is a second fence: every write
    /// of it is a compare-and-set on the version last read, so a write by the old owner after
    /// the new one took the agent over fails ([`SessionError::Owned`]) and changes nothing. (A
    /// turn that was running when its process was paused may run on for a moment once it
    /// resumes, until the process sees the lease gone; its outcome is not saved, and the new
    /// owner runs the task again.)
    ///
    /// **What a takeover costs**: the agents of a process that died are run again at most
    /// [`Lease::ttl`] plus [`Lease::scan_every`] after its last renewal; those of one that shut
    /// down, at most [`Lease::scan_every`] after.
    ///
    /// Each agent's lease is its own record, `agents/NAME/lease` (`{"owner", "expires_at_ms"}`):
    /// a renewal writes one record per agent, so a process with many agents wants a longer
    /// ttl. Calls on an agent another process owns fail with [`SessionError::Owned`], naming
    /// it; [`Agents::signal`], [`Agents::snapshot`], [`Agents::events`] and
    /// [`AgentLimits`] concern this process's agents only.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use plan_agents::session::{AgentEvent, Agents, Lease, SessionError, Turn};
    /// use plan_runtime::prelude::*;
    /// use plan_state::store::InMemory;
    ///
    /// async fn work(turn: Turn<()>) -> Turn<()> { turn }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let store = Arc::new(InMemory::new()); // one store, shared by two processes
    /// let lease = |owner| Lease::new(owner).ttl(Duration::from_secs(8));
    /// let one = Agents::builder(store.clone()).kind("worker", plan! { work }).lease(lease("one")).start().await?;
    /// let two = Agents::builder(store.clone()).kind("worker", plan! { work }).lease(lease("two")).start().await?;
    /// one.create("ada", "worker", None).await?;
    /// let refused = two.status("ada").await;
    /// assert!(matches!(refused, Err(SessionError::Owned { owner, .. }) if owner == "one"));
    ///
    /// // One shuts down: two takes ada over at its next scan (every 2 s, a quarter of the ttl).
    /// let mut events = two.events();
    /// one.shutdown().await;
    /// tokio::time::sleep(Duration::from_secs(2)).await;
    /// let taken = events.recv().await.unwrap();
    /// assert_eq!(taken, AgentEvent::TakenOver { agent: "ada".into(), from: Some("one".into()) });
    /// assert_eq!(two.status("ada").await?.name, "ada");
    /// # Ok::<_, SessionError>(())
    /// # }).unwrap();
    /// ```
    pub fn lease(mut self, lease: Lease) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Takes out of memory every agent idle for `idle` or longer (checked every half of
    /// it): idle, asleep on events or mail, or stopped, with no task queued or running and no
    /// timer (a wake time or a schedule) armed. Its record stays in the store; what it did
    /// since the process started and its budget stay in memory, with its status. It is read
    /// back, transparently, on the first call that needs it: mail, a task, a wake, a signal
    /// it sleeps on, a sleep, a stop, its state or dead tasks. [`Agents::status`] and
    /// [`Agents::snapshot`] answer without reading it back ([`AgentStatus::unloaded`]).
    /// [`AgentEvent::Unloaded`] and [`AgentEvent::Loaded`] tell each move. Off by default.
    ///
    /// [`AgentStatus::unloaded`]: super::AgentStatus::unloaded
    /// [`AgentEvent::Unloaded`]: super::AgentEvent::Unloaded
    /// [`AgentEvent::Loaded`]: super::AgentEvent::Loaded
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use plan_agents::session::{Agents, SessionError, TaskSpec, Turn};
    /// use plan_runtime::prelude::*;
    /// use plan_state::store::InMemory;
    ///
    /// async fn count(mut turn: Turn<u32>) -> Turn<u32> {
    ///     turn.state += 1;
    ///     turn
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let agents = Agents::builder(Arc::new(InMemory::new()))
    ///     .kind("counter", plan! { count })
    ///     .unload_idle_after(Duration::from_secs(600))
    ///     .start()
    ///     .await?;
    /// agents.create("c", "counter", None).await?;
    /// agents.schedule("c", TaskSpec::new("count")).await?;
    /// tokio::time::sleep(Duration::from_secs(1_000)).await; // idle for ten minutes, and more
    /// assert!(agents.status("c").await?.unloaded);
    ///
    /// agents.schedule("c", TaskSpec::new("count")).await?; // read back from the store
    /// tokio::time::sleep(Duration::from_millis(1)).await;
    /// assert_eq!(agents.state("c").await?, 2);
    /// assert!(!agents.status("c").await?.unloaded);
    /// # Ok::<_, SessionError>(())
    /// # }).unwrap();
    /// ```
    pub fn unload_idle_after(mut self, idle: Duration) -> Self {
        self.unload_after = Some(idle);
        self
    }

    /// Starts the agents: every agent the store keeps is restored, as it was, with its state,
    /// its queued tasks, its sleep and its schedules. An attempt that was running when the
    /// process stopped counts as failed: the task is tried again, or dead-lettered after its
    /// last attempt. A wake time or schedule that passed while the process was down fires at
    /// once (a schedule once, however many times it came due). With a [lease](Builder::lease),
    /// only the agents no other process owns are, their leases claimed.
    ///
    /// Every agent the store keeps is restored, even past [`AgentLimits::agents`] or a kind's
    /// limit (lowered since it was created): then no agent is created until there are fewer.
    ///
    /// Fails, restoring nothing, if a record cannot be read or names a kind not registered,
    /// if a limit is 0, if a kind's limit names a kind not registered, or if the lease cannot
    /// work ([`SessionError::BadLease`]).
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
        if let Some(lease) = &self.lease {
            lease.check()?;
        }
        let clock = Clock::starting_at(self.now.unwrap_or_else(SystemTime::now));
        let inner = Arc::new(Inner::new(
            self.store,
            self.kinds,
            limits,
            self.kind_limits,
            clock,
            self.lease.map(Leases::new),
            self.unload_after,
        ));
        // First every record is read (its lease claimed first, with leases): one that cannot
        // be is an error before anything changed.
        let mut records = Vec::new();
        for key in inner.store.keys(record::PREFIX).await? {
            let Some(name) = record::agent_of(&key) else {
                continue;
            };
            if let Err(e) = Name::new(name) {
                inner.shutdown().await;
                return Err(SessionError::Corrupt {
                    agent: echo::name(name),
                    reason: echo::reason(&e.to_string()),
                });
            }
            let claimed = match &inner.leases {
                Some(leases) => match leases.claim(&inner.store, name, clock.now_ms()).await {
                    Ok(claimed) => Some(claimed),
                    Err(SessionError::Owned { .. }) => continue,
                    Err(e) => {
                        inner.shutdown().await;
                        return Err(e);
                    }
                },
                None => None,
            };
            match inner.read(name).await {
                Ok(Some((record, version))) => {
                    records.push((name.to_owned(), record, version, claimed));
                }
                Ok(None) => {} // deleted since it was listed
                Err(e) => {
                    drop(records);
                    inner.shutdown().await;
                    return Err(e);
                }
            }
        }
        // Then each is written back as recovered (the attempts a crash cut off, failed), so
        // that a store that cannot take the writes fails the start before anything runs.
        let mut restored = Vec::new();
        for (name, record, version, claimed) in records {
            match inner.adopt(&name, record, version).await {
                Ok((slot, events)) => restored.push((slot, events, claimed)),
                Err(e) => {
                    drop(restored);
                    inner.shutdown().await;
                    return Err(e);
                }
            }
        }
        // Only then do they run.
        for (slot, events, claimed) in restored {
            let from = claimed.and_then(|claimed| claimed.keep());
            inner.resume(slot, events, from).await;
        }
        inner.keep_leases();
        inner.keep_unloading();
        Ok(Agents { inner })
    }
}
