//! How plain functions and closures become plan steps.
//!
//! Inside `plan!` (or with [`step!`](crate::step!)) a function value is *classified* once, when
//! the plan is built, by the shape of its signature: one argument or two (`(In, &Ctx)`), sync
//! or async, returning a plain value, a `Result<_, E>` (any `E` convertible into
//! `Box<dyn Error + Send + Sync>`: `std` errors, `String`, boxed errors), or a
//! `Result<_, PlanError>`. The classification is a zero-sized marker in [`FnStep`]'s type, so
//! calling a step costs exactly a call of the function.

pub(crate) mod classify;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};

// The markers that record how a step is called: named only by `plan!`'s and `step!`'s
// expansions, so not part of the documented API.
#[doc(hidden)]
pub use classify::{Awaits, Fallible, IsPlan, Plain, PlanResult, Returns, Tag, WithCtx};

/// A function or closure adapted into a [`Plan`]; `K` records how it is called. Made by
/// [`step!`](crate::step!) and by `plan!`.
pub struct FnStep<F, K> {
    f: F,
    _kind: PhantomData<fn() -> K>,
}

impl<F, K> FnStep<F, K> {
    /// Adapts `f`; prefer [`step!`](crate::step!), which infers `K`.
    pub fn new(f: F) -> Self {
        FnStep {
            f,
            _kind: PhantomData,
        }
    }
}

impl<F, K> Describe for FnStep<F, K> {}

impl<F: Clone, K> Clone for FnStep<F, K> {
    fn clone(&self) -> Self {
        FnStep::new(self.f.clone())
    }
}

/// Converts a step's error into a [`PlanError::Step`] naming the running node.
fn step_error<C>(cx: &Cx<'_, C>, error: impl Into<BoxError>) -> PlanError {
    PlanError::Step {
        node: NodeRef::current(cx).into(),
        source: error.into().into(),
    }
}

/// What fallible steps may return as their error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A function of `(In, &'a Ctx)` whose future may borrow the context. Implemented for every
/// such `Fn`; it exists because a plain `Fn(In, &Ctx) -> Fut` bound cannot let `Fut` borrow.
pub trait CtxAsyncFn<'a, In, Ctx: 'a>: Fn(In, &'a Ctx) -> Self::Fut {
    /// The returned future.
    type Fut: Future<Output = Self::Ret> + Send + 'a;
    /// What the future resolves to.
    type Ret;
}

impl<'a, F, In, Ctx: 'a, Fut> CtxAsyncFn<'a, In, Ctx> for F
where
    F: Fn(In, &'a Ctx) -> Fut,
    Fut: Future + Send + 'a,
{
    type Fut = Fut;
    type Ret = Fut::Output;
}

// One `Plan` impl per classification. The `Returns<..>`/`Awaits<..>` markers fix `In` (and `Ctx`
// for two-argument steps), so each impl is unambiguous.

impl<F, I, C, O> Plan<I, C> for FnStep<F, Returns<I, Plain>>
where
    F: Fn(I) -> O + Send + Sync,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    // Not `async fn`: the future would carry the unused `Cx` (four words) through every step.
    fn call(&self, input: I, _: Cx<'_, C>) -> impl Future<Output = Result<O, PlanError>> + Send {
        let f = &self.f;
        async move { Ok(f(input)) }
    }

    fn call_inline(
        &self,
        input: I,
        _: Cx<'_, C>,
    ) -> impl Future<Output = Result<O, PlanError>> + Send {
        std::future::ready(Ok((self.f)(input)))
    }
}

impl<F, I, C, O, E> Plan<I, C> for FnStep<F, Returns<I, Fallible>>
where
    F: Fn(I) -> Result<O, E> + Send + Sync,
    E: Into<BoxError>,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        (self.f)(input).map_err(|e| step_error(&cx, e))
    }

    fn call_inline(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<O, PlanError>> + Send {
        std::future::ready((self.f)(input).map_err(|e| step_error(&cx, e)))
    }
}

impl<F, I, C, O> Plan<I, C> for FnStep<F, Returns<I, PlanResult>>
where
    F: Fn(I) -> Result<O, PlanError> + Send + Sync,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    fn call(&self, input: I, _: Cx<'_, C>) -> impl Future<Output = Result<O, PlanError>> + Send {
        let f = &self.f;
        async move { f(input) }
    }

    fn call_inline(
        &self,
        input: I,
        _: Cx<'_, C>,
    ) -> impl Future<Output = Result<O, PlanError>> + Send {
        std::future::ready((self.f)(input))
    }
}

impl<F, I, C, Fut> Plan<I, C> for FnStep<F, Awaits<I, Plain>>
where
    F: Fn(I) -> Fut + Send + Sync,
    Fut: Future + Send,
    Fut::Output: Send,
    I: Send,
    C: Sync,
{
    type Out = Fut::Output;
    fn call(
        &self,
        input: I,
        _: Cx<'_, C>,
    ) -> impl Future<Output = Result<Fut::Output, PlanError>> + Send {
        Awaiting::<_, _, _, Plain>::new(&self.f, input)
    }

    fn call_inline(
        &self,
        input: I,
        _: Cx<'_, C>,
    ) -> impl Future<Output = Result<Fut::Output, PlanError>> + Send {
        Awaited::<_, Plain>::new((self.f)(input))
    }
}

pin_project_lite::pin_project! {
    /// The future of an async step that returns its output as is (`K` is [`Plain`]) or a
    /// `Result<_, PlanError>` ([`PlanResult`]): it calls the step on its first poll — inside
    /// the node's, so that a panic while making the step's future is blamed on the step —
    /// then awaits what it returned. A plain enum rather than an `async` block, which would
    /// be a second state machine around the step's own (its state and a jump table, on every
    /// step of a chain).
    #[project = AwaitingProj]
    #[project_replace = AwaitingOwn]
    enum Awaiting<'f, F, I, Fut, K> {
        Start { f: &'f F, input: I },
        Running { #[pin] fut: Awaited<Fut, K> },
        // Between the two, while the step is called.
        Calling,
    }
}

impl<'f, F, I, Fut, K> Awaiting<'f, F, I, Fut, K> {
    fn new(f: &'f F, input: I) -> Self {
        Awaiting::Start { f, input }
    }
}

/// How an async step's output becomes its result; see [`Awaited`].
trait Finish<T> {
    type Out;
    fn finish(out: T) -> Result<Self::Out, PlanError>;
}

impl<T> Finish<T> for Plain {
    type Out = T;
    fn finish(out: T) -> Result<T, PlanError> {
        Ok(out)
    }
}

impl<O> Finish<Result<O, PlanError>> for PlanResult {
    type Out = O;
    fn finish(out: Result<O, PlanError>) -> Result<O, PlanError> {
        out
    }
}

impl<F, I, Fut, K> Future for Awaiting<'_, F, I, Fut, K>
where
    F: Fn(I) -> Fut,
    Fut: Future,
    K: Finish<Fut::Output>,
{
    type Output = Result<K::Out, PlanError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        if let AwaitingProj::Start { .. } = self.as_mut().project()
            && let AwaitingOwn::Start { f, input } =
                self.as_mut().project_replace(Awaiting::Calling)
        {
            self.set(Awaiting::Running {
                fut: Awaited::new(f(input)),
            });
        }
        match self.project() {
            AwaitingProj::Running { fut } => fut.poll(task),
            _ => unreachable!("a step's future polled after it panicked"),
        }
    }
}

pin_project_lite::pin_project! {
    /// An async step's future, its output made a result: what [`Awaiting`] awaits once it
    /// has called the step, and the whole future of a step called inline (see
    /// `Plan::call_inline`), which is called at once.
    struct Awaited<Fut, K> {
        #[pin]
        fut: Fut,
        kind: PhantomData<fn() -> K>,
    }
}

impl<Fut, K> Awaited<Fut, K> {
    fn new(fut: Fut) -> Self {
        Awaited {
            fut,
            kind: PhantomData,
        }
    }
}

impl<Fut: Future, K: Finish<Fut::Output>> Future for Awaited<Fut, K> {
    type Output = Result<K::Out, PlanError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().fut.poll(task).map(K::finish)
    }
}

impl<F, I, C, Fut, O, E> Plan<I, C> for FnStep<F, Awaits<I, Fallible>>
where
    F: Fn(I) -> Fut + Send + Sync,
    Fut: Future<Output = Result<O, E>> + Send,
    E: Into<BoxError>,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        (self.f)(input).await.map_err(|e| step_error(&cx, e))
    }
}

impl<F, I, C, Fut, O> Plan<I, C> for FnStep<F, Awaits<I, PlanResult>>
where
    F: Fn(I) -> Fut + Send + Sync,
    Fut: Future<Output = Result<O, PlanError>> + Send,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    fn call(&self, input: I, _: Cx<'_, C>) -> impl Future<Output = Result<O, PlanError>> + Send {
        Awaiting::<_, _, _, PlanResult>::new(&self.f, input)
    }

    fn call_inline(
        &self,
        input: I,
        _: Cx<'_, C>,
    ) -> impl Future<Output = Result<O, PlanError>> + Send {
        Awaited::<_, PlanResult>::new((self.f)(input))
    }
}

impl<F, I, C, O> Plan<I, C> for FnStep<F, Returns<I, WithCtx<C, Plain>>>
where
    F: Fn(I, &C) -> O + Send + Sync,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        Ok((self.f)(input, cx.ctx()))
    }
}

impl<F, I, C, O, E> Plan<I, C> for FnStep<F, Returns<I, WithCtx<C, Fallible>>>
where
    F: Fn(I, &C) -> Result<O, E> + Send + Sync,
    E: Into<BoxError>,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        (self.f)(input, cx.ctx()).map_err(|e| step_error(&cx, e))
    }
}

impl<F, I, C, O> Plan<I, C> for FnStep<F, Returns<I, WithCtx<C, PlanResult>>>
where
    F: Fn(I, &C) -> Result<O, PlanError> + Send + Sync,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        (self.f)(input, cx.ctx())
    }
}

impl<F, I, C, O> Plan<I, C> for FnStep<F, Awaits<I, WithCtx<C, Plain>>>
where
    F: for<'a> CtxAsyncFn<'a, I, C, Ret = O> + Send + Sync,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        Ok((self.f)(input, cx.ctx()).await)
    }
}

impl<F, I, C, O, E> Plan<I, C> for FnStep<F, Awaits<I, WithCtx<C, Fallible>>>
where
    F: for<'a> CtxAsyncFn<'a, I, C, Ret = Result<O, E>> + Send + Sync,
    E: Into<BoxError>,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        (self.f)(input, cx.ctx())
            .await
            .map_err(|e| step_error(&cx, e))
    }
}

impl<F, I, C, O> Plan<I, C> for FnStep<F, Awaits<I, WithCtx<C, PlanResult>>>
where
    F: for<'a> CtxAsyncFn<'a, I, C, Ret = Result<O, PlanError>> + Send + Sync,
    I: Send,
    C: Sync,
    O: Send,
{
    type Out = O;
    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<O, PlanError> {
        (self.f)(input, cx.ctx()).await
    }
}
