//! `blocking(f)`: a CPU-heavy or blocking function, run on tokio's blocking pool.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};

use crate::node::panicked;
use crate::step::{BoxError, Fallible, Plain, PlanResult};

/// Runs a sync function on tokio's blocking pool (`spawn_blocking`), so it does not stall the
/// plan's other branches. `K` says whether it returns a plain value or a `Result`.
///
/// **Deadlines and cancellation.** A blocking call cannot be interrupted. When a `blocking`
/// step is cancelled — by `#[timeout]`, a group deadline, a winning sibling, or dropping the
/// run — the plan stops waiting for it at once and returns; the function itself runs to
/// completion on its pool thread and its result is discarded. It is the one kind of work that
/// can outlive its run: make long blocking work check a flag of its own if that matters.
pub struct Blocking<F, K> {
    f: Arc<F>,
    _kind: PhantomData<fn() -> K>,
}

impl<F, K> Clone for Blocking<F, K> {
    fn clone(&self) -> Self {
        Blocking {
            f: Arc::clone(&self.f),
            _kind: PhantomData,
        }
    }
}

/// `blocking(f)` for a function returning a plain value.
pub fn blocking<F>(f: F) -> Blocking<F, Plain> {
    Blocking::new(f)
}

impl<F, K> Blocking<F, K> {
    /// Wraps `f`; `K` is [`Plain`], [`Fallible`] or [`PlanResult`].
    pub fn new(f: F) -> Self {
        Blocking {
            f: Arc::new(f),
            _kind: PhantomData,
        }
    }

    /// The same function, treated as returning `Result<_, E>`.
    pub fn fallible(self) -> Blocking<F, Fallible> {
        Blocking {
            f: self.f,
            _kind: PhantomData,
        }
    }
}

impl<F, K> Describe for Blocking<F, K> {}

/// Spawns `f(input)` on the blocking pool and awaits it, mapping a panic to `Panicked`.
async fn spawn<F, I, R, C>(f: &Arc<F>, input: I, cx: Cx<'_, C>) -> Result<R, PlanError>
where
    F: Fn(I) -> R + Send + Sync + 'static,
    I: Send + 'static,
    R: Send + 'static,
{
    let f = Arc::clone(f);
    tokio::task::spawn_blocking(move || f(input))
        .await
        .map_err(|join| {
            if join.is_panic() {
                panicked(&cx, join.into_panic().as_ref())
            } else {
                PlanError::Cancelled {
                    node: NodeRef::current(&cx).into(),
                }
            }
        })
}

impl<F, I, C, O> Plan<I, C> for Blocking<F, Plain>
where
    F: Fn(I) -> O + Send + Sync + 'static,
    I: Send + 'static,
    O: Send + 'static,
    C: Sync,
{
    type Out = O;
    fn call(&self, input: I, cx: Cx<'_, C>) -> impl Future<Output = Result<O, PlanError>> + Send {
        spawn(&self.f, input, cx)
    }
}

impl<F, I, C, O, E> Plan<I, C> for Blocking<F, Fallible>
where
    F: Fn(I) -> Result<O, E> + Send + Sync + 'static,
    E: Into<BoxError> + Send + 'static,
    I: Send + 'static,
    O: Send + 'static,
    C: Sync,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        spawn(&self.f, input, cx)
            .await?
            .map_err(|e| PlanError::Step {
                node: NodeRef::current(&cx).into(),
                source: e.into().into(),
            })
    }
}

impl<F, I, C, O> Plan<I, C> for Blocking<F, PlanResult>
where
    F: Fn(I) -> Result<O, PlanError> + Send + Sync + 'static,
    I: Send + 'static,
    O: Send + 'static,
    C: Sync,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        spawn(&self.f, input, cx).await?
    }
}
