//! [`Lease`]: how the processes that share one store share its agents, each agent owned by
//! one of them at a time; and the lease each agent has in the store, under
//! `agents/NAME/lease`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plan_state::store::{Key, Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;

use super::engine::lock;
use super::{MAX_NAME, SessionError};
use crate::echo;

/// How this process shares the agents of its store with other processes
/// ([`Builder::lease`](super::Builder::lease)): each agent is owned by one process at a time,
/// which holds its lease, renews it every [`Lease::renew_every`], and runs the agent; a
/// lease not renewed for [`Lease::ttl`] expires, and another process takes the agent over.
///
/// Its owner names this process, in errors and events of the others: make it unique among
/// them (the host and the process id, say). A process started again under the same owner
/// takes back the agents whose leases still name it at once, without waiting for them to
/// expire.
///
/// ```
/// use std::time::Duration;
/// use plan_agents::session::Lease;
///
/// // Renewed every 2.5 s (a quarter of the ttl); agents whose leases expired are looked
/// // for every second.
/// let lease = Lease::new("host-1:4312")
///     .ttl(Duration::from_secs(10))
///     .scan_every(Duration::from_secs(1));
/// assert_eq!(lease.owner(), "host-1:4312");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    owner: String,
    ttl: Duration,
    renew_every: Option<Duration>,
    scan_every: Option<Duration>,
}

impl Lease {
    /// The leases of the process `owner` (1 to [`MAX_NAME`] bytes), each lasting 30 s from
    /// when it was last renewed.
    pub fn new(owner: impl Into<String>) -> Self {
        Lease {
            owner: owner.into(),
            ttl: Duration::from_secs(30),
            renew_every: None,
            scan_every: None,
        }
    }

    /// How long a lease lasts from when its owner last renewed it: once it has passed,
    /// another process may take the agent over.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How often the owner renews its leases: a quarter of the ttl unless set, and less than
    /// half of it. An owner that could not renew a lease gives its agent up this long before
    /// the lease expires.
    pub fn renew_every(mut self, period: Duration) -> Self {
        self.renew_every = Some(period);
        self
    }

    /// How often the process looks in the store for agents whose leases expired (or that have
    /// none), to take them over: a quarter of the ttl unless set.
    pub fn scan_every(mut self, period: Duration) -> Self {
        self.scan_every = Some(period);
        self
    }

    /// The process these leases name.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How often the owner renews its leases.
    pub(crate) fn renews_every(&self) -> Duration {
        self.renew_every.unwrap_or(self.ttl / 4)
    }

    /// How often the process looks for agents to take over.
    pub(crate) fn scans_every(&self) -> Duration {
        self.scan_every.unwrap_or(self.ttl / 4)
    }

    /// Fails with [`SessionError::BadLease`] unless the lease can work.
    pub(super) fn check(&self) -> Result<(), SessionError> {
        if self.owner.is_empty() || self.owner.len() > MAX_NAME {
            return Err(SessionError::BadLease(
                "its owner must be 1 to 255 bytes long",
            ));
        }
        let renew = self.renews_every();
        if renew.is_zero() || renew.checked_mul(2).is_none_or(|twice| twice >= self.ttl) {
            return Err(SessionError::BadLease(
                "renew_every must be more than 0 and less than half the ttl",
            ));
        }
        if self.scans_every().is_zero() {
            return Err(SessionError::BadLease("scan_every must be more than 0"));
        }
        Ok(())
    }
}

/// An agent's lease as the store keeps it: which process owns the agent, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    owner: String,
    /// When it expires unless renewed, in ms since the epoch; 0 once released.
    expires_at_ms: u64,
}

/// The key of agent `name`'s lease.
fn lease_key(name: &str) -> Result<Key, StoreError> {
    Key::new(format!("{}{name}/lease", super::record::PREFIX))
}

/// The leases this process holds.
pub(crate) struct Leases {
    pub lease: Lease,
    held: Mutex<HashMap<String, Held>>,
    /// Held by a round of renewals and takeovers, and by a shutdown while it releases the
    /// leases: a lease is never renewed after it was released.
    pub round: tokio::sync::Mutex<()>,
    /// The task that runs the rounds.
    pub keeper: Mutex<Option<AbortHandle>>,
}

/// A lease of this process.
enum Held {
    /// Being claimed: nobody else in this process claims it meanwhile.
    Claiming,
    /// Written, at `version`; the agent is this process's until `deadline_ms`, unless the
    /// lease is renewed before.
    Owned { version: u64, deadline_ms: u64 },
}

impl Leases {
    pub fn new(lease: Lease) -> Self {
        Leases {
            lease,
            held: Mutex::new(HashMap::new()),
            round: tokio::sync::Mutex::new(()),
            keeper: Mutex::new(None),
        }
    }

    pub fn owner(&self) -> &str {
        &self.lease.owner
    }

    fn millis(d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    /// The lease a claim or renewal at `now` writes, and until when the agent is this
    /// process's with it: a renewal's worth before the lease expires, so that the owner has
    /// given the agent up before another process may take it, though their clocks differ by
    /// less than that.
    fn written_at(&self, now: u64) -> (Stored, u64) {
        let expires_at_ms = now.saturating_add(Self::millis(self.lease.ttl));
        let deadline = expires_at_ms.saturating_sub(Self::millis(self.lease.renews_every()));
        let stored = Stored {
            owner: self.lease.owner.clone(),
            expires_at_ms,
        };
        (stored, deadline)
    }

    /// Whether agent `name` is this process's at `now`.
    pub fn owns(&self, name: &str, now: u64) -> bool {
        matches!(lock(&self.held).get(name),
            Some(Held::Owned { deadline_ms, .. }) if now < *deadline_ms)
    }

    /// Whether this process holds or is claiming agent `name`'s lease.
    pub fn holds(&self, name: &str) -> bool {
        lock(&self.held).contains_key(name)
    }

    /// The soonest time an agent stops being this process's, unless its lease is renewed.
    pub fn next_deadline(&self) -> Option<u64> {
        lock(&self.held)
            .values()
            .filter_map(|held| match held {
                Held::Owned { deadline_ms, .. } => Some(*deadline_ms),
                Held::Claiming => None,
            })
            .min()
    }

    /// The agents that are this process's no more at `now`: their leases were not renewed in
    /// time.
    pub fn overdue(&self, now: u64) -> Vec<String> {
        lock(&self.held)
            .iter()
            .filter(
                |(_, held)| matches!(held, Held::Owned { deadline_ms, .. } if *deadline_ms <= now),
            )
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The leases to renew: each agent's name, the lease's version and the agent's deadline.
    pub fn owned(&self) -> Vec<(String, u64, u64)> {
        lock(&self.held)
            .iter()
            .filter_map(|(name, held)| match held {
                Held::Owned {
                    version,
                    deadline_ms,
                } => Some((name.clone(), *version, *deadline_ms)),
                Held::Claiming => None,
            })
            .collect()
    }

    /// Lets go of agent `name`'s lease, in this process only.
    pub fn forget(&self, name: &str) {
        lock(&self.held).remove(name);
    }

    /// Lets go of every lease written, in this process only; their names and versions, to
    /// be released in the store.
    pub fn forget_all(&self) -> Vec<(String, u64)> {
        let mut held = lock(&self.held);
        let owned: Vec<(String, u64)> = held
            .iter()
            .filter_map(|(name, held)| match held {
                Held::Owned { version, .. } => Some((name.clone(), *version)),
                Held::Claiming => None,
            })
            .collect();
        for (name, _) in &owned {
            held.remove(name);
        }
        owned
    }

    /// The owner agent `name`'s lease names, if it has one.
    pub async fn owner_of<S: Store>(
        &self,
        store: &S,
        name: &str,
    ) -> Result<Option<String>, SessionError> {
        match store.get(&lease_key(name)?).await? {
            Some(stored) => Ok(Some(parse(name, stored.value)?.owner)),
            None => Ok(None),
        }
    }

    /// Claims agent `name`'s lease at `now`, if it has none, or it expired, or it names this
    /// process. Fails with [`SessionError::Owned`] if another process holds it, and with
    /// [`SessionError::Exists`] if this one holds it or is claiming it already.
    pub async fn claim<S: Store + 'static>(
        &self,
        store: &Arc<S>,
        name: &str,
        now: u64,
    ) -> Result<Claimed<'_, S>, SessionError> {
        {
            let mut held = lock(&self.held);
            if held.contains_key(name) {
                return Err(SessionError::Exists(name.to_owned()));
            }
            held.insert(name.to_owned(), Held::Claiming);
        }
        // From here on, dropped (a claim that failed, or whose caller gave up) it lets go.
        let mut claimed = Claimed {
            leases: self,
            store: store.clone(),
            name: name.to_owned(),
            version: None,
            from: None,
            kept: false,
        };
        let key = lease_key(name)?;
        let current = match store.get(&key).await? {
            Some(stored) => Some((parse(name, stored.value)?, stored.version)),
            None => None,
        };
        let owned = |owner: &str| SessionError::Owned {
            agent: name.to_owned(),
            owner: echo::name(owner),
        };
        if let Some((lease, _)) = &current
            && lease.owner != self.lease.owner
        {
            if lease.expires_at_ms > now {
                return Err(owned(&lease.owner));
            }
            claimed.from = Some(echo::name(&lease.owner));
        }
        let (stored, deadline_ms) = self.written_at(now);
        let value = serde_json::to_value(&stored).map_err(|e| corrupt(name, &e))?;
        let expected = current.map(|(_, version)| version);
        match store.compare_and_set(&key, expected, &value).await? {
            Ok(version) => {
                claimed.version = Some(version);
                lock(&self.held).insert(
                    name.to_owned(),
                    Held::Owned {
                        version,
                        deadline_ms,
                    },
                );
                Ok(claimed)
            }
            Err(conflict) => {
                // Another process claimed it first.
                let owner = conflict
                    .current
                    .and_then(|stored| parse(name, stored.value).ok())
                    .map_or_else(|| "another process".to_owned(), |lease| lease.owner);
                Err(owned(&owner))
            }
        }
    }

    /// Renews agent `name`'s lease, at `version`, at `now`. `Ok(Err(owner))` if another
    /// process took it (`None`: it is gone).
    pub async fn renew<S: Store>(
        &self,
        store: &S,
        name: &str,
        version: u64,
        now: u64,
    ) -> Result<Result<(), Option<String>>, SessionError> {
        let (stored, deadline) = self.written_at(now);
        let value = serde_json::to_value(&stored).map_err(|e| corrupt(name, &e))?;
        match store
            .compare_and_set(&lease_key(name)?, Some(version), &value)
            .await?
        {
            Ok(renewed) => {
                if let Some(Held::Owned {
                    version: held,
                    deadline_ms,
                }) = lock(&self.held).get_mut(name)
                    && *held == version
                {
                    *held = renewed;
                    *deadline_ms = deadline;
                }
                Ok(Ok(()))
            }
            Err(conflict) => {
                let owner = conflict
                    .current
                    .and_then(|stored| parse(name, stored.value).ok())
                    .map(|lease| lease.owner);
                Ok(Err(owner))
            }
        }
    }

    /// Releases agent `name`'s lease, at `version`, in the store: another process may take
    /// the agent over at once. A lease taken meanwhile is left as it is.
    pub async fn release<S: Store>(
        &self,
        store: &S,
        name: &str,
        version: u64,
    ) -> Result<(), SessionError> {
        release(store, self.owner(), name, version).await
    }
}

/// [`Leases::release`], for `owner`.
async fn release<S: Store>(
    store: &S,
    owner: &str,
    name: &str,
    version: u64,
) -> Result<(), SessionError> {
    let released = Stored {
        owner: owner.to_owned(),
        expires_at_ms: 0,
    };
    let value = serde_json::to_value(&released).map_err(|e| corrupt(name, &e))?;
    // A conflict: taken meanwhile, and not this process's to release.
    let _ = store
        .compare_and_set(&lease_key(name)?, Some(version), &value)
        .await?;
    Ok(())
}

/// A lease as the store keeps it, or why it is not one.
fn parse(name: &str, value: serde_json::Value) -> Result<Stored, SessionError> {
    serde_json::from_value(value).map_err(|e| corrupt(name, &e))
}

fn corrupt(name: &str, e: &serde_json::Error) -> SessionError {
    SessionError::Corrupt {
        agent: echo::name(name),
        reason: echo::reason(&format!("its lease: {e}")),
    }
}

/// A lease just claimed, for an agent not yet among the agents: let go of, in this process
/// and in the store, when dropped, unless [`Claimed::keep`] says the agent is in.
pub(crate) struct Claimed<'a, S: Store + 'static> {
    leases: &'a Leases,
    store: Arc<S>,
    name: String,
    /// The lease's version once written.
    version: Option<u64>,
    /// The process whose expired lease it was.
    from: Option<String>,
    kept: bool,
}

impl<S: Store + 'static> Claimed<'_, S> {
    /// The agent is among the agents: the lease stays, renewed from now on. Returns the
    /// process whose expired lease it was, if another's.
    pub fn keep(mut self) -> Option<String> {
        self.kept = true;
        self.from.take()
    }
}

impl<S: Store + 'static> Drop for Claimed<'_, S> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        self.leases.forget(&self.name);
        let Some(version) = self.version else { return };
        // Released in the background: a drop cannot wait. With no runtime left, the lease
        // expires by itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, name) = (self.store.clone(), std::mem::take(&mut self.name));
            let owner = self.leases.owner().to_owned();
            runtime.spawn(async move {
                if let Err(e) = release(&*store, &owner, &name, version).await {
                    tracing::warn!(agent = name, error = %e, "lease not released: it expires by itself");
                }
            });
        }
    }
}
