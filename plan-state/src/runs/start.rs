//! [`DurableRun`]: one durable run to start, continue or resume, configured and awaited.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use plan_runtime::run::Options;
use plan_runtime::{Extensions, Monitor, Plan};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{RunError, RunStatus, Runs};
use crate::store::Store;

/// A durable run, made by [`Runs::run`] (start or continue it on an input) or
/// [`Runs::resume`] (answer the question it waits on): give it the context its steps take
/// ([`DurableRun::ctx`]), values for the tools inside ([`DurableRun::with`]) or
/// [`Options`] (a budget, cancellation, a deadline, a monitor: [`DurableRun::options`]), then
/// await it. Each is what a plain run of the plan takes (see `plan_runtime::Run`).
///
/// ```
/// use plan_runtime::prelude::*;
/// use plan_runtime::run::Options;
/// use plan_state::runs::Runs;
/// use plan_state::store::InMemory;
///
/// fn forever(_: String) -> impl std::future::Future<Output = String> { std::future::pending() }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let plan = plan! { forever };
/// let runs = Runs::new(InMemory::new());
/// let options = Options::new().timeout(Duration::from_secs(1));
/// let err = runs.run(&plan, "r", "x".to_owned()).options(&options).await.unwrap_err();
/// assert!(err.to_string().contains("timed out"), "{err}");
/// # });
/// ```
///
/// `O` is the plan's output, inferred where the run is awaited; a `DurableRun` is a
/// [`Future`].
#[must_use = "a durable run does nothing until it is awaited"]
pub struct DurableRun<'a, S, P: ?Sized, I, C, O> {
    runs: &'a Runs<S>,
    plan: &'a P,
    id: &'a str,
    // Taken when the run starts.
    step: Option<Step<I>>,
    ctx: &'a C,
    given: Given<'a>,
    running: Option<Running<'a, O>>,
}

/// A started durable run's future.
type Running<'a, O> = Pin<Box<dyn Future<Output = Result<RunStatus<O>, RunError>> + Send + 'a>>;

// Nothing is pinned in place: the run's future is boxed.
impl<S, P: ?Sized, I, C, O> Unpin for DurableRun<'_, S, P, I, C, O> {}

/// What the run of the plan is given besides its input and context.
pub(super) struct Given<'a> {
    pub(super) extensions: Extensions<'a>,
    pub(super) options: Option<&'a Options>,
    pub(super) monitor: Option<&'a (dyn Monitor + 'a)>,
}

/// What the run is asked to do.
pub(super) enum Step<I> {
    /// Start or continue on this input.
    Start(I),
    /// Answer its question (as JSON, or why it could not be written as JSON).
    Resume(Result<serde_json::Value, serde_json::Error>),
}

impl<'a, S, P: ?Sized, I, O> DurableRun<'a, S, P, I, (), O> {
    pub(super) fn new(runs: &'a Runs<S>, plan: &'a P, id: &'a str, step: Step<I>) -> Self {
        DurableRun {
            runs,
            plan,
            id,
            step: Some(step),
            running: None,
            ctx: &(),
            given: Given {
                extensions: Extensions::new(),
                options: None,
                monitor: None,
            },
        }
    }
}

impl<'a, S, P: ?Sized, I, C, O> DurableRun<'a, S, P, I, C, O> {
    /// With the context that steps taking `&C2` receive.
    pub fn ctx<C2>(self, ctx: &'a C2) -> DurableRun<'a, S, P, I, C2, O> {
        DurableRun {
            runs: self.runs,
            plan: self.plan,
            id: self.id,
            step: self.step,
            ctx,
            given: self.given,
            running: self.running,
        }
    }

    /// With `value` for the tools inside the plan, found by type.
    pub fn with<T: Any + Sync>(mut self, value: &'a T) -> Self {
        self.given.extensions = self.given.extensions.with(value);
        self
    }

    /// Reporting every node's start, end, retries and waits to `monitor` (a
    /// `plan_runtime::report::Recorder`, for one).
    pub fn monitor(mut self, monitor: &'a (dyn Monitor + 'a)) -> Self {
        self.given.monitor = Some(monitor);
        self
    }

    /// With everything `options` holds: values for the tools, cancellation, a deadline for
    /// this attempt, a monitor.
    pub fn options(mut self, options: &'a Options) -> Self {
        self.given.options = Some(options);
        self
    }
}

impl<'a, S, P, I, C, O> Future for DurableRun<'a, S, P, I, C, O>
where
    S: Store + 'static,
    P: Plan<I, C, Out = O> + ?Sized,
    O: Serialize + DeserializeOwned + Send,
    I: Serialize + DeserializeOwned + Send + 'a,
    C: Sync,
{
    type Output = Result<RunStatus<O>, RunError>;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.running.is_none()
            && let Some(step) = this.step.take()
        {
            let (runs, plan, id, ctx) = (this.runs, this.plan, this.id, this.ctx);
            let given = Given {
                extensions: std::mem::take(&mut this.given.extensions),
                options: this.given.options,
                monitor: this.given.monitor,
            };
            this.running = Some(Box::pin(async move {
                match step {
                    Step::Start(input) => runs.start(plan, id, input, ctx, &given).await,
                    Step::Resume(answer) => runs.answer(plan, id, answer, ctx, &given).await,
                }
            }));
        }
        match &mut this.running {
            Some(running) => running.as_mut().poll(task),
            None => Poll::Pending,
        }
    }
}
