//! Persisting an agent's state: loaded from a [`Store`] at the start of a plan and saved at
//! its end, by two plan steps.
//!
//! A [`Persist<T, S>`] is a typed view of a store: it reads values of `T` (any `serde` type)
//! and writes them back, through steps of `plan!` that appear in the plan's graph and run
//! report like any other step:
//!
//! * [`Persist::load`] is a step `Key -> Stored<T>` ([`Persist::load_at`]: `() -> Stored<T>`
//!   for a key fixed when the plan is built). A [`Stored`] is the state with its key and the
//!   version it was loaded at; the plan works on its `state` with `focus(Stored::state)`.
//! * [`Persist::save`] is a step `Stored<T> -> Stored<T>`: it writes the state back under its
//!   key, after the sanitizers ([`Persist::sanitize`]) ran over it, and gives it back with its
//!   new version.
//!
//! ```
//! use plan_runtime::prelude::*;
//! use plan_state::persist::{Persist, Stored};
//! use plan_state::store::{Key, Sqlite};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! struct Agent { turns: u32, notes: Vec<String> }
//!
//! fn think(mut agent: Agent) -> Agent {
//!     agent.turns += 1;
//!     agent.notes.push(format!("turn {}", agent.turns));
//!     agent
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let agents: Persist<Agent, _> = Persist::new(Sqlite::open_in_memory().await.unwrap()).or_default();
//! let turn = plan! { (agents.load()) >> focus(Stored::state) { think } >> (agents.save()) };
//!
//! let ada = Key::new("agents/ada").unwrap();
//! turn.run(ada.clone()).await.unwrap(); // no state yet: it starts from `Agent::default()`
//! let saved = turn.run(ada).await.unwrap();
//! assert_eq!((saved.state.turns, saved.version), (2, Some(2)));
//! assert_eq!(saved.state.notes, ["turn 1", "turn 2"]);
//! # });
//! ```
//!
//! # What can go wrong, and what happens then
//!
//! Every failure is a [`PersistError`] (inside the [`PlanError`] that names the step), and
//! names the key and the store:
//!
//! * **No state under the key**: [`PersistError::Missing`], unless the `Persist` says what to
//!   start from ([`Persist::or_default`], [`Persist::or_else`]). A missing state is never
//!   silently an empty one: a typo in a key or a store pointed at the wrong place is an error,
//!   unless starting afresh is what was asked for.
//! * **A state of the wrong shape** (a field renamed, a type changed): [`PersistError::Shape`],
//!   with serde's reason. Nothing is changed in the store.
//! * **A store that fails** (a corrupt file, a server that is down):
//!   [`PersistError::Store`], with the store's [`StoreError`].
//! * **A state changed since it was loaded** (another run of the same agent saved first):
//!   [`PersistError::Conflict`], and nothing is written.
//!
//! # Why a save is a compare-and-set
//!
//! A save writes only if the state is still at the version it was loaded at (or, for a state
//! started from a default, only if there is still none). Two runs of one agent that overlap
//! would otherwise both load version 3, and the second save would silently throw away the
//! first run's work. The conflict is an error, not a merge: only the plan knows how to redo
//! its work on the newer state. To redo it, put the load and the save under one `#[retry]`:
//! each attempt loads afresh.
//!
//! ```
//! # use plan_runtime::prelude::*;
//! # use plan_state::persist::{Persist, Stored};
//! # use plan_state::store::{Key, Sqlite};
//! fn count(n: u64) -> u64 { n + 1 }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let counters: Persist<u64, _> = Persist::new(Sqlite::open_in_memory().await.unwrap()).or_default();
//! let add = plan! {
//!     #[retry(10)] seq { (counters.load()) >> focus(Stored::state) { count } >> (counters.save()) }
//! };
//! let key = Key::new("visits").unwrap();
//! // Ten runs at once: those that load the same version conflict, but one, and load again
//! // and count again. None is lost. (Each conflict of a run follows another run's save, so
//! // no run needs more than ten attempts.)
//! let runs: Vec<_> = (0..10).map(|_| add.run(key.clone())).collect();
//! for run in futures::future::join_all(runs).await {
//!     run.unwrap();
//! }
//! assert_eq!(counters.read(key).await.unwrap().state, 10);
//! # });
//! ```

use std::any::type_name;
use std::fmt;
use std::sync::Arc;

use plan_runtime::{Cx, Describe, Lens, NodeRef, Plan, PlanError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::sanitize::Sanitize;
use crate::store::{Key, Store, StoreError};

/// A typed view of a [`Store`]: states of type `T` under keys, loaded and saved by the steps
/// [`Persist::load`], [`Persist::load_at`] and [`Persist::save`], or directly by
/// [`Persist::read`] and [`Persist::write`]. Cloning it is cheap: the store is shared.
///
/// A missing state is [`PersistError::Missing`] unless [`Persist::or_default`] or
/// [`Persist::or_else`] says what to start from; [`Persist::sanitize`] adds what runs over
/// every state before it is written. See the [module documentation](self) for a plan; outside
/// a plan, [`Persist::read`] and [`Persist::write`] do what the steps do:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use plan_state::persist::Persist;
/// use plan_state::store::{Key, Sqlite, Store};
///
/// let scores: Persist<Vec<u32>, _> = Persist::new(Sqlite::open_in_memory().await.unwrap()).or_default();
/// let key = Key::new("scores").unwrap();
/// let mut stored = scores.read(key.clone()).await.unwrap();
/// stored.state.push(7);
/// scores.write(&mut stored).await.unwrap();
/// assert_eq!(stored.version, Some(1));
/// assert_eq!(scores.store().get(&key).await.unwrap().unwrap().value, serde_json::json!([7]));
/// # });
/// ```
pub struct Persist<T, S> {
    store: Arc<S>,
    start: Option<Arc<dyn Fn() -> T + Send + Sync>>,
    sanitizers: Vec<Arc<dyn Sanitize>>,
}

/// A state, with the key it is stored under and the version it was loaded at (`None`: it is
/// not stored yet). What [`Persist::load`] gives and [`Persist::save`] takes: a plan works on
/// the state with `focus(Stored::state) { .. }`. It is serde when its state is, so that
/// `load >> … >> save` can be a durable run, and its output journaled.
#[derive(Clone, Debug, PartialEq, Lens, Serialize, Deserialize)]
pub struct Stored<T> {
    /// Where the state is stored.
    pub key: Key,
    /// The version it was loaded at, or last saved as; `None` when it is not stored yet.
    /// A save writes only if the store still holds this version.
    pub version: Option<u64>,
    /// The state.
    pub state: T,
}

impl<T> Stored<T> {
    /// A state not stored yet under `key`: saving it creates it, unless one was saved under
    /// `key` in the meantime (a [`PersistError::Conflict`]).
    ///
    /// ```
    /// use plan_state::persist::Stored;
    /// use plan_state::store::Key;
    ///
    /// let fresh = Stored::new(Key::new("agents/ada").unwrap(), vec!["hello"]);
    /// assert_eq!(fresh.version, None);
    /// assert_eq!(fresh.into_state(), ["hello"]);
    /// ```
    pub fn new(key: Key, state: T) -> Self {
        Stored {
            key,
            version: None,
            state,
        }
    }

    /// The state, without its key and version.
    pub fn into_state(self) -> T {
        self.state
    }
}

/// Why a state could not be loaded or saved. Each names the key and the store.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use plan_state::persist::{Persist, PersistError};
/// use plan_state::store::{Key, Sqlite, Store};
///
/// let store = Sqlite::open_in_memory().await.unwrap();
/// let key = Key::new("agents/ada").unwrap();
/// store.put(&key, &serde_json::json!({ "turns": "many" })).await.unwrap();
/// let counts: Persist<std::collections::BTreeMap<String, u32>, _> = Persist::new(store);
/// let err = counts.read(key).await.unwrap_err();
/// assert!(matches!(err, PersistError::Shape { .. }));
/// assert_eq!(
///     err.to_string(),
///     "the state under `agents/ada` in sqlite in memory is not a \
///      `alloc::collections::btree::map::BTreeMap<alloc::string::String, u32>`: \
///      invalid type: string \"many\", expected u32",
/// );
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The store failed: it could not be reached, or what it holds is corrupt. Its error
    /// names the key and the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// There is no state under the key, and the [`Persist`] has no default to start from.
    #[error(
        "there is no state under `{key}` in {store} (to start from a default instead, build the Persist with `or_default` or `or_else`)"
    )]
    Missing {
        /// The store.
        store: String,
        /// The key.
        key: Key,
    },
    /// The stored state is not a `T`.
    #[error("the state under `{key}` in {store} is not a `{ty}`: {reason}")]
    Shape {
        /// The store.
        store: String,
        /// The key.
        key: Key,
        /// The type it was read as.
        ty: &'static str,
        /// What does not fit, as serde says it.
        reason: String,
    },
    /// The state cannot be written as JSON (a map whose keys are not strings, say, or a
    /// `Serialize` impl that fails). Nothing is written.
    #[error("the state for `{key}` in {store} cannot be written as JSON: {reason}")]
    Unserializable {
        /// The store.
        store: String,
        /// The key.
        key: Key,
        /// serde's reason.
        reason: String,
    },
    /// The stored state changed since it was loaded: another run saved it first. Nothing is
    /// written; load it again and redo the work (see [Why a save is a
    /// compare-and-set](self#why-a-save-is-a-compare-and-set)).
    #[error(
        "the state under `{key}` in {store} changed since it was loaded (from {}, now {}): not saved",
        Version(*.loaded),
        Version(*.found)
    )]
    Conflict {
        /// The store.
        store: String,
        /// The key.
        key: Key,
        /// The version it was loaded at (`None`: there was none).
        loaded: Option<u64>,
        /// The version stored now (`None`: it was deleted).
        found: Option<u64>,
    },
}

/// A version in a conflict's message.
struct Version(Option<u64>);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(version) => write!(f, "version {version}"),
            None => f.write_str("no state"),
        }
    }
}

impl<T, S> Clone for Persist<T, S> {
    fn clone(&self) -> Self {
        Persist {
            store: Arc::clone(&self.store),
            start: self.start.clone(),
            sanitizers: self.sanitizers.clone(),
        }
    }
}

impl<T, S: Store> fmt::Debug for Persist<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Persist")
            .field("state", &type_name::<T>())
            .field("store", &self.store.name())
            .field("or_default", &self.start.is_some())
            .field("sanitizers", &self.sanitizers.len())
            .finish()
    }
}

impl<T, S> Persist<T, S>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    S: Store,
{
    /// States of type `T` in `store`. A missing state is an error; see [`Persist::or_default`].
    /// To share a store with other code, pass an `Arc` of it (an `Arc` of a store is a store).
    pub fn new(store: S) -> Self {
        Persist {
            store: Arc::new(store),
            start: None,
            sanitizers: Vec::new(),
        }
    }

    /// The same, starting from `T::default()` where there is no state yet.
    pub fn or_default(self) -> Self
    where
        T: Default,
    {
        self.or_else(T::default)
    }

    /// The same, starting from `start()` where there is no state yet.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use plan_state::persist::Persist;
    /// use plan_state::store::{Key, Sqlite};
    ///
    /// let greetings: Persist<Vec<String>, _> = Persist::new(Sqlite::open_in_memory().await.unwrap())
    ///     .or_else(|| vec!["hello".to_owned()]);
    /// let fresh = greetings.read(Key::new("greetings").unwrap()).await.unwrap();
    /// assert_eq!((fresh.state, fresh.version), (vec!["hello".to_owned()], None));
    /// # });
    /// ```
    pub fn or_else(self, start: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Persist {
            start: Some(Arc::new(start)),
            ..self
        }
    }

    /// The same, with `sanitizer` run over every state (as JSON) before it is written, after
    /// those added before it. What is written is sanitized; the state the plan holds is not.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::collections::BTreeMap;
    /// use std::sync::Arc;
    /// use plan_state::persist::{Persist, Stored};
    /// use plan_state::sanitize::{CapStrings, Redact};
    /// use plan_state::store::{Key, Sqlite, Store};
    /// use serde_json::json;
    ///
    /// let store = Arc::new(Sqlite::open_in_memory().await.unwrap());
    /// // The cap first: after it, the redaction's own `"[redacted]"` is not cut.
    /// let sessions: Persist<BTreeMap<String, String>, _> = Persist::new(Arc::clone(&store))
    ///     .sanitize(CapStrings::new(5))
    ///     .sanitize(Redact::fields(["token"]));
    /// let key = Key::new("session").unwrap();
    /// let state = BTreeMap::from([("token".into(), "t-1".into()), ("reply".into(), "a long reply".into())]);
    /// let mut session = Stored::new(key.clone(), state);
    /// sessions.write(&mut session).await.unwrap();
    ///
    /// let written = store.get(&key).await.unwrap().unwrap().value;
    /// assert_eq!(written, json!({ "token": "[redacted]", "reply": "a lon… [7 more chars]" }));
    /// assert_eq!(session.state["token"], "t-1"); // the plan's own state is as it was
    /// # });
    /// ```
    pub fn sanitize(mut self, sanitizer: impl Sanitize + 'static) -> Self {
        self.sanitizers.push(Arc::new(sanitizer));
        self
    }

    /// The store (see the example on [`Persist`]).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The state under `key`, or the one to start from where there is none.
    pub async fn read(&self, key: Key) -> Result<Stored<T>, PersistError> {
        let store = self.store.name();
        let Some(found) = self.store.get(&key).await? else {
            return match &self.start {
                Some(start) => Ok(Stored::new(key, start())),
                None => Err(PersistError::Missing {
                    store: store.to_owned(),
                    key,
                }),
            };
        };
        match serde_json::from_value(found.value) {
            Ok(state) => Ok(Stored {
                key,
                version: Some(found.version),
                state,
            }),
            Err(e) => Err(PersistError::Shape {
                store: store.to_owned(),
                key,
                ty: type_name::<T>(),
                reason: e.to_string(),
            }),
        }
    }

    /// Writes `stored.state`, sanitized, under `stored.key` if the store still holds
    /// `stored.version` there, and raises `stored.version` to the version written.
    pub async fn write(&self, stored: &mut Stored<T>) -> Result<(), PersistError> {
        let store = self.store.name();
        let mut value =
            serde_json::to_value(&stored.state).map_err(|e| PersistError::Unserializable {
                store: store.to_owned(),
                key: stored.key.clone(),
                reason: e.to_string(),
            })?;
        for sanitizer in &self.sanitizers {
            sanitizer.sanitize(&mut value);
        }
        match self
            .store
            .compare_and_set(&stored.key, stored.version, &value)
            .await?
        {
            Ok(version) => {
                stored.version = Some(version);
                Ok(())
            }
            Err(conflict) => Err(PersistError::Conflict {
                store: store.to_owned(),
                key: stored.key.clone(),
                loaded: stored.version,
                found: conflict.current.map(|current| current.version),
            }),
        }
    }

    /// A step `Key -> Stored<T>`: the state under the key it is given ([`Persist::read`]).
    pub fn load(&self) -> Load<T, S> {
        Load {
            persist: self.clone(),
        }
    }

    /// A step `() -> Stored<T>`: the state under `key`, fixed when the plan is built.
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    /// use plan_state::persist::{Persist, PersistError, Stored};
    /// use plan_state::store::{Key, Sqlite};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // No `or_default`: a missing state is an error, naming the key and the store.
    /// let notes: Persist<Vec<String>, _> = Persist::new(Sqlite::open_in_memory().await.unwrap());
    /// let read = plan! { (notes.load_at(Key::new("notes").unwrap())) };
    /// let err = read.run(()).await.unwrap_err();
    /// assert!(matches!(err.step_error::<PersistError>(), Some(PersistError::Missing { .. })));
    /// assert!(err.to_string().contains("there is no state under `notes` in sqlite in memory"), "{err}");
    /// # });
    /// ```
    pub fn load_at(&self, key: Key) -> LoadAt<T, S> {
        LoadAt {
            persist: self.clone(),
            key,
        }
    }

    /// A step `Stored<T> -> Stored<T>`: writes the state back ([`Persist::write`]) and gives
    /// it with its new version.
    pub fn save(&self) -> Save<T, S> {
        Save {
            persist: self.clone(),
        }
    }
}

/// The step `Key -> Stored<T>` that [`Persist::load`] makes. A plan step like any other: it
/// shows in the plan's graph and run report under the name it is written with.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use plan_runtime::prelude::*;
/// use plan_state::persist::{Persist, Stored};
/// use plan_state::store::Sqlite;
///
/// let notes: Persist<Vec<String>, _> = Persist::new(Sqlite::open_in_memory().await.unwrap()).or_default();
/// let step = plan! { #[name = "load notes"] (notes.load()) >> (Stored::<Vec<String>>::into_state) };
/// assert_eq!(step.graph().nodes[1].name, "load notes");
/// # });
/// ```
pub struct Load<T, S> {
    persist: Persist<T, S>,
}

/// The step `() -> Stored<T>` that [`Persist::load_at`] makes; see there for an example.
pub struct LoadAt<T, S> {
    persist: Persist<T, S>,
    key: Key,
}

/// The step `Stored<T> -> Stored<T>` that [`Persist::save`] makes. It fails with
/// [`PersistError::Conflict`], and writes nothing, when the state changed since it was loaded.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use plan_runtime::prelude::*;
/// use plan_state::persist::{Persist, PersistError, Stored};
/// use plan_state::store::{Key, Sqlite};
///
/// let notes: Persist<Vec<String>, _> = Persist::new(Sqlite::open_in_memory().await.unwrap()).or_default();
/// let save = plan! { (notes.save()) };
/// let key = Key::new("notes").unwrap();
/// let first = save.run(Stored::new(key.clone(), vec!["first".to_owned()])).await.unwrap();
/// assert_eq!(first.version, Some(1));
/// // A second state that was never loaded from the store: it would overwrite the first.
/// let err = save.run(Stored::new(key, vec!["second".to_owned()])).await.unwrap_err();
/// assert!(matches!(err.step_error::<PersistError>(), Some(PersistError::Conflict { .. })));
/// # });
/// ```
pub struct Save<T, S> {
    persist: Persist<T, S>,
}

// By hand rather than derived: a step is `Clone` and `Debug` whatever `T` and `S` are.
impl<T, S> Clone for Load<T, S> {
    fn clone(&self) -> Self {
        Load {
            persist: self.persist.clone(),
        }
    }
}

impl<T, S> Clone for LoadAt<T, S> {
    fn clone(&self) -> Self {
        LoadAt {
            persist: self.persist.clone(),
            key: self.key.clone(),
        }
    }
}

impl<T, S> Clone for Save<T, S> {
    fn clone(&self) -> Self {
        Save {
            persist: self.persist.clone(),
        }
    }
}

impl<T, S: Store> fmt::Debug for Load<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Load").field(&self.persist).finish()
    }
}

impl<T, S: Store> fmt::Debug for LoadAt<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LoadAt")
            .field(&self.persist)
            .field(&self.key)
            .finish()
    }
}

impl<T, S: Store> fmt::Debug for Save<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Save").field(&self.persist).finish()
    }
}

impl<T, S> Describe for Load<T, S> {}
impl<T, S> Describe for LoadAt<T, S> {}
impl<T, S> Describe for Save<T, S> {}

impl<T, S, C> Plan<Key, C> for Load<T, S>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    S: Store,
    C: Sync,
{
    type Out = Stored<T>;

    async fn call(&self, key: Key, cx: Cx<'_, C>) -> Result<Stored<T>, PlanError> {
        self.persist
            .read(key)
            .await
            .map_err(|e| PlanError::step(NodeRef::current(&cx), e))
    }
}

impl<T, S, C> Plan<(), C> for LoadAt<T, S>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    S: Store,
    C: Sync,
{
    type Out = Stored<T>;

    async fn call(&self, (): (), cx: Cx<'_, C>) -> Result<Stored<T>, PlanError> {
        self.persist
            .read(self.key.clone())
            .await
            .map_err(|e| PlanError::step(NodeRef::current(&cx), e))
    }
}

impl<T, S, C> Plan<Stored<T>, C> for Save<T, S>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    S: Store,
    C: Sync,
{
    type Out = Stored<T>;

    async fn call(&self, mut stored: Stored<T>, cx: Cx<'_, C>) -> Result<Stored<T>, PlanError> {
        self.persist
            .write(&mut stored)
            .await
            .map_err(|e| PlanError::step(NodeRef::current(&cx), e))?;
        Ok(stored)
    }
}
