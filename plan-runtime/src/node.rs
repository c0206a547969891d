//! The wrappers that give a node its identity: [`Root`] around a whole plan, [`Node`] around
//! constructs, [`Leaf`] around steps, [`Nested`] around a plan used as a step of another.
//!
//! They are on the path of every call, so they do as little as possible: a `tracing` span only when
//! a subscriber wants DEBUG, nothing but the name to blame around a step that a sequence calls
//! inline in a run nobody observes, and panics are caught once per plan and per parallel branch
//! (see [`catch_panics`]) rather than around every step. A node that a panic unwinds through
//! records itself (the innermost one wins), so the caught panic still names the step it came from —
//! or, for a panic in a predicate, router or score, the construct that called it; on the happy path
//! that costs nothing.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use plan_core::{
    Cx, Describe, Ended, GraphBuilder, Monitor, NodeInfo, NodeKind, NodeRef, Plan, PlanError,
};

use crate::run::Run;
use crate::wiring::{ContextGiven, Free, Needs, NoContext, Sig};

/// A whole `plan!`: its root node, and the point where a panic in any of its steps is caught
/// and turned into [`PlanError::Panicked`].
///
/// `X` is what `plan!` found when it checked the plan ([`Sig`]): its input and output, and
/// whether its steps take a context — [`Free`] (they don't, or it is not known) or
/// [`Needs<C>`](Needs), which makes it a plan with context `C` only, so that a run without
/// `.ctx(&ctx)` is an error that names `C`.
#[derive(Clone, Debug)]
pub struct Root<P, X = Free> {
    info: &'static NodeInfo,
    inner: P,
    marker: PhantomData<fn() -> X>,
}

/// A construct (`par`, `loop`, `focus`, …) with its static identity: errors raised inside
/// name it, it runs in a `tracing` span, it appears in the plan's graph, and a panic in the
/// user code it calls itself (a `choose` predicate or router, a `loop` condition, a score) is
/// blamed on it.
#[derive(Clone, Debug)]
pub struct Node<P> {
    info: &'static NodeInfo,
    inner: P,
}

/// A step with its static identity, like [`Node`]; a panic while it runs is blamed on it.
#[derive(Clone, Debug)]
pub struct Leaf<P> {
    info: &'static NodeInfo,
    inner: P,
}

/// A plan used as a step of another: nodes inside are named with full paths through it.
#[derive(Clone, Debug)]
pub struct Nested<P> {
    // Boxed, so that a plan's value holds its own items only, however much it nests: a plan is
    // built bottom-up by value, and a debug build copies each level's value several times on
    // the stack (a 10,000-step plan of nested `plan!`s was 98 KB, copied into 1.2 MB of
    // stack). One allocation when the plan is built; none when it runs.
    plan: Box<P>,
}

/// Wraps a whole plan; see [`Root`].
pub fn root<P>(info: &'static NodeInfo, inner: P) -> Root<P> {
    Root {
        info,
        inner,
        marker: PhantomData,
    }
}

impl<P> Root<P> {
    /// The same plan, marked with `X`.
    pub(crate) fn marked<X>(self) -> Root<P, X> {
        Root {
            info: self.info,
            inner: self.inner,
            marker: PhantomData,
        }
    }
}

/// Wraps a construct; see [`Node`].
pub fn node<P>(info: &'static NodeInfo, inner: P) -> Node<P> {
    Node { info, inner }
}

/// Wraps a step; see [`Leaf`].
pub fn leaf<P>(info: &'static NodeInfo, inner: P) -> Leaf<P> {
    Leaf { info, inner }
}

impl<P> Nested<P> {
    /// Nests `plan`.
    pub fn new(plan: P) -> Self {
        Nested {
            plan: Box::new(plan),
        }
    }
}

thread_local! {
    /// The innermost node a panic on this thread unwound through, until a catch point takes it.
    static PANICKED_IN: Cell<Option<&'static NodeInfo>> = const { Cell::new(None) };
}

/// Lives for one poll of a node, and is forgotten when the poll returns: it is dropped only
/// if the poll unwinds, and then names the node for the catch point. The first to drop is the
/// innermost: the step that panicked, or the construct whose own code (a predicate) did.
struct Blame(&'static NodeInfo);

impl Drop for Blame {
    fn drop(&mut self) {
        if PANICKED_IN.get().is_none() {
            PANICKED_IN.set(Some(self.0));
        }
    }
}

// Out of line: dropping a span is large, and most observed nodes (those of a monitored run
// that no subscriber wants at DEBUG) have none.
#[cold]
#[inline(never)]
fn close(span: Box<tracing::Span>) {
    drop(span);
}

// Out of line: building a span is large, and only observed nodes make one.
#[cold]
#[inline(never)]
fn make_span(info: &'static NodeInfo) -> Box<tracing::Span> {
    Box::new(tracing::debug_span!(
        "plan.node",
        name = info.name,
        kind = info.kind.as_str(),
        path = info.path,
        policy = info.policy.unwrap_or(""),
    ))
}

pin_project_lite::pin_project! {
    /// A node's future, polled with the node to blame if the poll panics: all there is around
    /// a step that a sequence calls inline (see `Plan::call_inline`), and all of [`Traced`]
    /// that runs for a node nobody observes.
    struct Blamed<F> {
        #[pin]
        run: F,
        info: &'static NodeInfo,
    }
}

impl<F: Future> Future for Blamed<F> {
    type Output = F::Output;

    // Always: every step is polled through here (see `Traced::poll`).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let blame = Blame(this.info);
        let poll = this.run.poll(task);
        // Returned normally: nothing to blame, and no drop to run.
        std::mem::forget(blame);
        poll
    }
}

pin_project_lite::pin_project! {
    /// A node's future: [`Blamed`]; if it is observed
    /// (a `tracing` subscriber wants DEBUG, or the run has a [`Monitor`]), inside the node's
    /// span and reporting its start, every poll and its end. A plain struct rather than an
    /// `async fn`, so that the inner future is stored once (an `async fn` would keep both its
    /// argument and the pinned copy).
    #[doc(hidden)]
    pub struct Traced<'m, F> {
        // Declared before `observed`: fields drop in order, so a node dropped mid-run drops
        // the nodes inside it (which report their ends) before reporting its own.
        #[pin]
        node: Blamed<F>,
        // The run's `Cx::observer`: `None` for a node nobody watches, and then a poll tests
        // this and nothing else.
        observer: Option<&'m &'m dyn Monitor>,
        // Made by the first observed poll.
        observed: Option<Observed<'m>>,
    }
}

/// What an observed node keeps once it started: its span and its instance of the observer.
/// Reports the node as dropped if it did not end.
struct Observed<'m> {
    // Taken when the node's end has been reported, so that it is reported once.
    monitor: Option<&'m dyn Monitor>,
    // Boxed, because a span is five words and every observed node's future would carry them.
    span: Option<Box<tracing::Span>>,
    id: usize,
}

impl Drop for Observed<'_> {
    #[inline]
    fn drop(&mut self) {
        // The span closes before the end is reported, as it does when the node ends. `take`:
        // the field is then known to be `None`, so its own drop is nothing.
        if let Some(span) = self.span.take() {
            close(span);
        }
        if let Some(monitor) = self.monitor {
            monitor.end(self.id, Ended::Dropped);
        }
    }
}

/// Wraps `run`, the future of the node `cx` is at; observed if `cx` is (see [`observing`]).
fn traced<'m, F, C>(cx: &Cx<'m, C>, run: F) -> Traced<'m, F> {
    Traced {
        node: Blamed {
            run,
            info: cx.node(),
        },
        observer: cx.observer(),
        observed: None,
    }
}

/// `cx`, observed only if it has a monitor or a `tracing` subscriber wants DEBUG: decided once,
/// at a plan's root, so that a node nobody watches tests one word. A subscriber that starts
/// wanting DEBUG in the middle of a run sees the nodes of plans that start after that.
fn observing<C>(cx: Cx<'_, C>) -> Cx<'_, C> {
    cx.observing(tracing::level_enabled!(tracing::Level::DEBUG))
}

impl<T, F: Future<Output = Result<T, PlanError>>> Future for Traced<'_, F> {
    type Output = F::Output;

    // Always: every step is polled through here, and left to itself LLVM keeps it out of
    // line (a 1,000-step chain ran 14 % more instructions with `#[inline]`).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // One test per poll: an unobserved node pays nothing else for spans and monitors.
        if let Some(observer) = *this.observer {
            return poll_observed(*observer, this.observed, this.node, task);
        }
        this.node.poll(task)
    }
}

/// [`Traced::poll`] of an observed node: out of line, so that unobserved runs stay lean.
#[inline(never)]
fn poll_observed<'m, T, F: Future<Output = Result<T, PlanError>>>(
    observer: &'m dyn Monitor,
    observed: &mut Option<Observed<'m>>,
    node: Pin<&mut Blamed<F>>,
    task: &mut Context<'_>,
) -> Poll<F::Output> {
    let info = node.info;
    // On the first poll, inside the parent's span: spans nest as the nodes do, and a branch
    // that never starts never makes one.
    let observed = observed.get_or_insert_with(|| {
        let span = tracing::level_enabled!(tracing::Level::DEBUG).then(|| make_span(info));
        Observed {
            monitor: Some(observer),
            span,
            id: observer.start(info),
        }
    });
    let _entered = observed.span.as_deref().map(tracing::Span::enter);
    let monitor = observed.monitor;
    let id = observed.id;
    let visit = monitor.map(|monitor| Visit::enter(monitor, id, &mut observed.monitor));
    let poll = node.poll(task);
    drop(visit);
    if let (Some(monitor), Poll::Ready(out)) = (monitor, &poll) {
        observed.monitor = None;
        monitor.end(id, out.as_ref().map_or_else(Ended::Err, |_| Ended::Ok));
    }
    poll
}

/// One poll of a monitored node: makes it the monitor's current node for the poll's duration,
/// and reports it as panicked if the poll unwinds.
struct Visit<'v, 'm> {
    monitor: &'m dyn Monitor,
    id: usize,
    slot: &'v mut Option<&'m dyn Monitor>,
}

impl<'v, 'm> Visit<'v, 'm> {
    #[inline]
    fn enter(monitor: &'m dyn Monitor, id: usize, slot: &'v mut Option<&'m dyn Monitor>) -> Self {
        monitor.enter(id);
        Visit { monitor, id, slot }
    }
}

impl Drop for Visit<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() && self.slot.take().is_some() {
            self.monitor.end(self.id, Ended::Panicked);
        }
        self.monitor.leave(self.id);
    }
}

pin_project_lite::pin_project! {
    /// Turns a panic inside `run` into [`PlanError::Panicked`]; see [`catch_panics`].
    #[doc(hidden)]
    pub struct CatchPanics<'a, F, C> {
        #[pin]
        run: F,
        cx: Cx<'a, C>,
    }
}

/// Runs `run`, turning a panic inside it into [`PlanError::Panicked`] naming the innermost node
/// that was running (or `cx`'s node, if the panic was outside any).
pub(crate) fn catch_panics<'a, F, C>(cx: Cx<'a, C>, run: F) -> CatchPanics<'a, F, C> {
    CatchPanics { run, cx }
}

impl<T, F, C> Future for CatchPanics<'_, F, C>
where
    F: Future<Output = Result<T, PlanError>>,
{
    type Output = Result<T, PlanError>;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let run = this.run;
        catch_panic_in(this.cx, || run.poll(task))
    }
}

/// Polls with `poll`, turning a panic into `Ready(Err(Panicked))` naming the node it came from.
pub(crate) fn catch_panic_in<T, C>(
    cx: &Cx<'_, C>,
    poll: impl FnOnce() -> Poll<Result<T, PlanError>>,
) -> Poll<Result<T, PlanError>> {
    // A panic caught elsewhere (a user's `catch_unwind`) may have left a stale name behind.
    PANICKED_IN.set(None);
    catch_unwind(AssertUnwindSafe(poll))
        .unwrap_or_else(|payload| Poll::Ready(Err(panicked(cx, payload.as_ref()))))
}

/// The error for a caught panic: it names the innermost node it unwound from (a step, or the
/// construct whose predicate, router or score panicked), or `cx`'s node when it came from
/// outside any.
pub(crate) fn panicked<C>(cx: &Cx<'_, C>, payload: &(dyn Any + Send)) -> PlanError {
    let culprit = PANICKED_IN.take().unwrap_or(cx.node());
    PlanError::Panicked {
        node: NodeRef::within(cx, culprit).into(),
        message: panic_message(payload),
    }
}

/// The text of a panic payload (`panic!` with a literal or a format string).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// A construct's graph node, holding its children; returns the children's exits.
fn describe_construct(
    info: &'static NodeInfo,
    inner: &impl Describe,
    graph: &mut GraphBuilder,
    preds: &[usize],
) -> Vec<usize> {
    let id = graph.add(info, preds);
    graph.open(id);
    let exits = inner.describe(graph, &[id]);
    graph.close();
    exits
}

impl<P: Describe, X> Describe for Root<P, X> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        describe_construct(self.info, &self.inner, graph, preds)
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        Some(self.info)
    }
}

// Three impls rather than one over every marker: a plan whose steps take `&C` is a plan with
// context `C` only, so that running it without one is an error naming `C` (see `Needs`).
macro_rules! root_plan {
    ($ctx:ident, $marker:ty $(, $sig:ident)*) => {
        impl<I: Send, $ctx: Sync, P: Plan<I, $ctx> $(, $sig)*> Plan<I, $ctx> for Root<P, $marker> {
            type Out = P::Out;

            fn call(
                &self,
                input: I,
                cx: Cx<'_, $ctx>,
            ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
                let cx = observing(cx.at(self.info));
                // The root's record ends with the run's own result, a caught panic included.
                traced(&cx, catch_panics(cx, self.inner.call(input, cx)))
            }
        }
    };
}
root_plan!(C, Free);
root_plan!(C, Sig<SI, SO, Free>, SI, SO);
root_plan!(C, Sig<SI, SO, Needs<C>>, SI, SO);

impl<P, SI, SO, N> Root<P, Sig<SI, SO, Needs<N>>> {
    /// A run of this plan on `input`, as [`PlanExt::run`](crate::PlanExt::run) gives, for a
    /// plan whose steps take a context `&N`: give it with [`.ctx(&ctx)`](Run::ctx) before the
    /// run is awaited. Awaited without one, the run is a compile error that names `N` and
    /// the fix, wherever its result is used.
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    ///
    /// struct Config { factor: u32 }
    /// fn scale(x: u32, cfg: &Config) -> u32 { x * cfg.factor }
    /// let p = plan! { scale };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(p.run(2).ctx(&Config { factor: 3 }).await.unwrap(), 6);
    /// # });
    /// ```
    ///
    /// ```compile_fail,E0277
    /// # use plan_runtime::prelude::*;
    /// # struct Config { factor: u32 }
    /// # fn scale(x: u32, cfg: &Config) -> u32 { x * cfg.factor }
    /// # let p = plan! { scale };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // error: this plan's steps take a context `&Config`, but its run is not given one
    /// let out = p.run(2).await.unwrap();
    /// # });
    /// ```
    pub fn run<In, O>(&self, input: In) -> Run<'_, Self, In, NoContext<N>, O> {
        Run::new(self, input, NoContext::new())
    }
}

// The run of a plan whose steps take `&N`, awaited without `.ctx(&ctx)`: the one unmet bound,
// `(): ContextGiven<N>`, never holds, and its error names `N` and the fix.
impl<I: Send, N: Sync, P: Plan<I, N>, SI, SO> Plan<I, NoContext<N>>
    for Root<P, Sig<SI, SO, Needs<N>>>
where
    (): ContextGiven<N>,
{
    type Out = P::Out;

    async fn call(&self, _input: I, _cx: Cx<'_, NoContext<N>>) -> Result<P::Out, PlanError> {
        match <() as ContextGiven<N>>::given() {}
    }
}

impl<P: Describe> Describe for Node<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        describe_construct(self.info, &self.inner, graph, preds)
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        Some(self.info)
    }
}

impl<I, C, P> Plan<I, C> for Node<P>
where
    P: Plan<I, C>,
{
    type Out = P::Out;

    fn call(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        let cx = cx.at(self.info);
        traced(&cx, self.inner.call(input, cx))
    }
}

impl<P: Describe> Describe for Leaf<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let id = graph.add(self.info, preds);
        graph.open(id);
        self.inner.describe(graph, &[id]);
        graph.close();
        vec![id]
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        Some(self.info)
    }
}

impl<I, C, P> Plan<I, C> for Leaf<P>
where
    P: Plan<I, C>,
{
    type Out = P::Out;

    fn call(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        let cx = cx.at(self.info);
        traced(&cx, self.inner.call(input, cx))
    }

    fn call_inline(
        &self,
        input: I,
        cx: Cx<'_, C>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        // Started at once, by a caller that is inside a poll (see `Plan::call_inline`): a
        // panic in the step's call is blamed on it, as one in its poll is.
        let blame = Blame(self.info);
        let run = Blamed {
            run: self.inner.call_inline(input, cx.at(self.info)),
            info: self.info,
        };
        std::mem::forget(blame);
        run
    }
}

impl<P: Describe> Describe for Nested<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.enter_plan();
        let exits = self.plan.describe(graph, preds);
        graph.exit_plan();
        exits
    }
}

impl<I, C, P> Plan<I, C> for Nested<P>
where
    P: Plan<I, C>,
    I: Send,
    C: Sync,
{
    type Out = P::Out;

    async fn call(&self, input: I, cx: Cx<'_, C>) -> Result<Self::Out, PlanError> {
        // A nested `plan!` names its nodes below this step; any other step value (a custom
        // `Plan`) simply runs as this step.
        let scope = cx.scope();
        let is_plan = self
            .plan
            .info()
            .is_some_and(|info| info.kind == NodeKind::Plan);
        let cx = if is_plan { cx.nested(&scope) } else { cx };
        self.plan.call(input, cx).await
    }
}
