//! [`Remote`] and [`RemoteStep`]: a typed step of a plan whose every call runs on a worker.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use plan_runtime::budget::Budget;
use plan_runtime::{Cx, Describe, NodeRef, Plan, PlanError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::job::key_segment;
use crate::{Engine, Job, Outcome, RemoteError, Signature};

/// A handle on an [`Engine`]: makes the typed steps a plan calls on workers. Cheap to clone.
///
/// ```
/// use plan_remote::{Local, Registry, Remote, RemoteError};
/// use plan_runtime::prelude::*;
///
/// fn square(n: u32) -> u64 { u64::from(n) * u64::from(n) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let remote = Remote::new(Local::new(Registry::new().step("square", plan! { square })));
/// // Checked against what the workers serve:
/// let err = remote.step::<u64, u64>("square").await.unwrap_err();
/// assert!(matches!(err, RemoteError::Mismatch { .. }), "{err}");
/// assert!(remote.step::<u32, u64>("cube").await.is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct Remote {
    engine: Arc<dyn Engine>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Remote").field(&self.engine.name()).finish()
    }
}

impl Remote {
    /// Steps that run on `engine`'s workers.
    pub fn new(engine: impl Engine) -> Self {
        Remote {
            engine: Arc::new(engine),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &dyn Engine {
        &*self.engine
    }

    /// The step `name`, taking `In` and giving `Out`, as a plan: each call is a job run by a
    /// worker that serves `name`. Fails if no worker has registered `name`
    /// ([`RemoteError::NotServed`]), or if the workers serve it with other types
    /// ([`RemoteError::Mismatch`]).
    pub async fn step<In, Out>(&self, name: &str) -> Result<RemoteStep<In, Out>, RemoteError> {
        let called = Signature::of::<In, Out>();
        match self.engine.served(name).await? {
            None => Err(RemoteError::NotServed {
                step: name.to_owned(),
                engine: self.engine.name().to_owned(),
            }),
            Some(served) if served != called => Err(RemoteError::Mismatch {
                step: name.to_owned(),
                called,
                served,
            }),
            Some(_) => Ok(RemoteStep {
                inner: Arc::new(Inner {
                    name: name.to_owned(),
                    signature: called,
                    engine: Arc::clone(&self.engine),
                    attempts: Mutex::new(HashMap::new()),
                }),
                types: PhantomData,
            }),
        }
    }
}

/// A step of a plan run by workers ([`Remote::step`]): in a `plan!` it is a value,
/// `(fetch)`, or `#[name = "fetch"] (fetch.clone())`, and like any step it shows in the
/// plan's graph, its reports (with the worker that ran it, as the note `worker`), its
/// traces, and spends from the run's budget.
///
/// Each call is a [`Job`] whose key is the run's id (a durable run's, or one drawn for the
/// call), the node's entry in the run (its path, and the `loop` passes and `each` items
/// around it) and the attempt, counted per entry in a durable run so that `#[retry]` makes a
/// new job and a durable run continued after a crash, in this or another process, makes the
/// same keys again and gets the results its jobs had. A worker's error comes back as
/// [`RemoteError::Failed`] naming the worker; dropping the call (a `par(first)` loser, a
/// `#[timeout]`) gives the job up, and a worker running it stops it.
///
/// A run's [`Budget`] reaches the worker: the job carries what is left of it, the step runs
/// there with a budget of that much, and what it spent is counted here when its result comes
/// back (its requests, tokens and money — money at the worker's prices, which is none unless
/// its steps price their calls).
pub struct RemoteStep<In, Out> {
    inner: Arc<Inner>,
    types: PhantomData<fn(In) -> Out>,
}

struct Inner {
    name: String,
    signature: Signature,
    engine: Arc<dyn Engine>,
    /// Attempts so far per `run.entry` of a durable run.
    attempts: Mutex<HashMap<String, u32>>,
}

impl<In, Out> Clone for RemoteStep<In, Out> {
    fn clone(&self) -> Self {
        RemoteStep {
            inner: Arc::clone(&self.inner),
            types: PhantomData,
        }
    }
}

impl<In, Out> fmt::Debug for RemoteStep<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStep")
            .field("name", &self.inner.name)
            .field("signature", &self.inner.signature)
            .field("engine", &self.inner.engine.name())
            .finish()
    }
}

impl<In, Out> RemoteStep<In, Out> {
    /// The step's name on the workers.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

impl<In, Out> Describe for RemoteStep<In, Out> {}

impl<In, Out, C> Plan<In, C> for RemoteStep<In, Out>
where
    In: Serialize + Send,
    Out: DeserializeOwned + Send,
    C: Sync,
{
    type Out = Out;

    async fn call(&self, input: In, cx: Cx<'_, C>) -> Result<Out, PlanError> {
        let inner = &*self.inner;
        let node = NodeRef::current(&cx);
        let fail = |e: RemoteError| PlanError::step(node.clone(), e);
        let input = serde_json::to_value(input).map_err(|source| {
            fail(RemoteError::Encode {
                step: inner.name.clone(),
                source,
            })
        })?;
        let entry = cx.entry().key.replace(':', "=");
        let run = cx.journal().and_then(|journal| journal.run_id());
        let budget = cx.extension::<Budget>();
        loop {
            let place = run.map(|run| format!("{}.{entry}", key_segment(run)));
            let key = match &place {
                Some(place) => format!("{place}.{}", inner.next_attempt(place)),
                None => format!("{}.{entry}.1", nonce()),
            };
            let job = Job {
                step: inner.name.clone(),
                key,
                signature: inner.signature.clone(),
                input: input.clone(),
                budget: budget.map(Budget::left),
            };
            let done = inner.engine.dispatch(job).await.map_err(fail)?;
            if let Some(monitor) = cx.monitor()
                && !done.worker.is_empty()
            {
                monitor.note("worker", &done.worker);
            }
            if let Some(spent) = &done.spent {
                if let Some(budget) = budget {
                    budget.spend(spent);
                }
                if let Some(monitor) = cx.monitor() {
                    for (counter, amount) in [
                        ("requests", spent.requests as f64),
                        ("dollars", spent.dollars),
                    ] {
                        if amount > 0.0 {
                            monitor.count(counter, amount);
                        }
                    }
                }
            }
            return match done.outcome {
                Outcome::Output(output) => {
                    // Done: no attempt of this entry follows (a failure may be retried).
                    if let Some(place) = &place {
                        inner.forget(place);
                    }
                    serde_json::from_value(output).map_err(|source| {
                        fail(RemoteError::Decode {
                            step: inner.name.clone(),
                            worker: done.worker,
                            source,
                        })
                    })
                }
                Outcome::Failed(message) => Err(fail(RemoteError::Failed {
                    step: inner.name.clone(),
                    worker: done.worker,
                    message,
                })),
                // An earlier process running this run gave this attempt up before it died:
                // the job is made again, as the next attempt.
                Outcome::Cancelled => continue,
            };
        }
    }
}

impl Inner {
    fn next_attempt(&self, place: &str) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let attempt = attempts.entry(place.to_owned()).or_insert(0);
        *attempt += 1;
        *attempt
    }

    fn forget(&self, place: &str) {
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        attempts.remove(place);
    }
}

/// A run id of a call's own, for a run that is not durable: nobody will make its key again.
fn nonce() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    // A fresh `RandomState` is a new random key: enough to tell processes apart.
    let random = RandomState::new().hash_one(CALLS.fetch_add(1, Ordering::Relaxed));
    format!("n{random:016x}")
}
