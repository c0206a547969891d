//! Running a plan: `plan.run(input)` gives a [`Run`], configured in one place and awaited.
//!
//! ```
//! use plan_runtime::prelude::*;
//!
//! struct Config { factor: u32 }
//! fn scale(x: u32, cfg: &Config) -> u32 { x * cfg.factor }
//! fn add_one(x: u32) -> u32 { x + 1 }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! // The common case: no context, nothing else.
//! assert_eq!(plan! { add_one >> add_one }.run(1).await.unwrap(), 3);
//!
//! // Everything else is a method on the run, in any combination.
//! let cancel = CancellationToken::new();
//! let (out, report) = plan! { scale >> add_one }
//!     .run(2)
//!     .ctx(&Config { factor: 3 })
//!     .until(cancel.cancelled())
//!     .timeout(Duration::from_secs(5))
//!     .reported()
//!     .await;
//! assert_eq!(out.unwrap(), 7);
//! assert_eq!(report.find_all("scale").count(), 1);
//! # });
//! ```
//!
//! Loops, agents and durable runs that start many runs keep their configuration in an owned
//! [`Options`] and hand it to each run with [`Run::options`].

mod options;
mod reported;
mod tee;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use plan_core::{Cx, Describe, Extensions, Monitor, NodeRef, Plan, PlanError};

pub use options::Options;
pub use reported::Reported;

/// A started run's future: boxed, because a plan's future has no name to write.
pub type RunFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PlanError>> + Send + 'a>>;

/// `plan.run(input)`, for every plan: see [`Run`].
pub trait PlanExt: Describe {
    /// A run of this plan on `input`, to configure and then await. Nothing happens until it
    /// is awaited; dropping the future cancels the run, every branch in flight with it.
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    ///
    /// fn add_one(x: u32) -> u32 { x + 1 }
    /// let p = plan! { add_one >> add_one };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(p.run(1).await.unwrap(), 3);
    /// # });
    /// ```
    ///
    /// A `Run` is a future, for `block_on`, `join_all` or `select!`:
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    ///
    /// fn double(x: u32) -> u32 { x * 2 }
    /// let p = plan! { double };
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let outs = rt.block_on(futures::future::join_all((0..3).map(|i| p.run(i))));
    /// assert_eq!(outs.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [0, 2, 4]);
    /// ```
    fn run<In, O>(&self, input: In) -> Run<'_, Self, In, (), O> {
        Run::new(self, input, &())
    }
}

impl<P: Describe + ?Sized> PlanExt for P {}

/// One run of a plan, made by [`PlanExt::run`]: the input, the context its steps take
/// ([`Run::ctx`]), values for the tools inside ([`Run::with`]), cancellation
/// ([`Run::until`]), a deadline ([`Run::timeout`]), a monitor ([`Run::monitor`]) or a report
/// ([`Run::reported`]), in any combination. Await it for the plan's result.
///
/// ```
/// use plan_runtime::prelude::*;
///
/// fn forever(_: ()) -> impl std::future::Future<Output = ()> { std::future::pending() }
/// let p = plan! { forever };
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let err = p.run(()).timeout(Duration::from_secs(1)).await.unwrap_err();
/// assert!(err.is_timeout());
/// let err = p.run(()).until(async {}).await.unwrap_err();
/// assert!(err.is_cancelled());
/// # });
/// ```
///
/// `O` is the plan's output, inferred where the run is awaited. A `Run` is a [`Future`]: pass
/// it to `block_on`, `join_all` or `select!` as it is. Once polled, it has started, and the
/// methods above change nothing.
#[must_use = "a run does nothing until it is awaited"]
pub struct Run<'a, P: ?Sized, In, C, O> {
    plan: &'a P,
    // Taken when the run starts.
    input: Option<In>,
    ctx: &'a C,
    extensions: Extensions<'a>,
    cancel: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
    timeout: Option<Duration>,
    monitor: Option<&'a (dyn Monitor + 'a)>,
    // The plan's future, boxed since it has no name to write, once polled.
    running: Option<RunFuture<'a, O>>,
}

// Nothing is pinned in place: the plan's future is boxed, and the input is moved into it.
impl<P: ?Sized, In, C, O> Unpin for Run<'_, P, In, C, O> {}

impl<'a, P: ?Sized, In, C, O> Run<'a, P, In, C, O> {
    /// A run of `plan` on `input` with the context `ctx`, and nothing else.
    pub(crate) fn new(plan: &'a P, input: In, ctx: &'a C) -> Self {
        Run {
            plan,
            input: Some(input),
            ctx,
            extensions: Extensions::new(),
            cancel: None,
            timeout: None,
            monitor: None,
            running: None,
        }
    }

    /// With the context that steps taking `&C2` receive (clients, configuration).
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    ///
    /// struct Config { factor: u32 }
    /// fn scale(x: u32, cfg: &Config) -> u32 { x * cfg.factor }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let out = plan! { scale >> scale }.run(2).ctx(&Config { factor: 3 }).await.unwrap();
    /// assert_eq!(out, 18);
    /// # });
    /// ```
    pub fn ctx<C2>(self, ctx: &'a C2) -> Run<'a, P, In, C2, O> {
        Run {
            plan: self.plan,
            input: self.input,
            ctx,
            extensions: self.extensions,
            cancel: self.cancel,
            timeout: self.timeout,
            monitor: self.monitor,
            running: self.running,
        }
    }

    /// With `value` for the tools inside the plan, found by type with
    /// [`Cx::extension`](plan_core::Cx::extension) (a budget every branch of this run spends
    /// from). A later value of a type shadows an earlier one.
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    /// use plan_runtime::{Cx, Describe, PlanError};
    ///
    /// struct Quota(u32);
    /// struct ReadQuota;
    /// impl Describe for ReadQuota {}
    /// impl Plan<()> for ReadQuota {
    ///     type Out = Option<u32>;
    ///     async fn call(&self, _: (), cx: Cx<'_, ()>) -> Result<Option<u32>, PlanError> {
    ///         Ok(cx.extension::<Quota>().map(|q| q.0))
    ///     }
    /// }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(ReadQuota.run(()).with(&Quota(7)).await.unwrap(), Some(7));
    /// assert_eq!(ReadQuota.run(()).await.unwrap(), None);
    /// # });
    /// ```
    pub fn with<T: Any + Sync>(mut self, value: &'a T) -> Self {
        self.extensions = self.extensions.with(value);
        self
    }

    /// With every value of `extensions` (a set made elsewhere, as a durable run makes its
    /// journal's), after those given so far.
    pub fn extensions(mut self, extensions: &Extensions<'a>) -> Self {
        self.extensions = self.extensions.with_all(extensions);
        self
    }

    /// Until `cancel` completes: then the run is dropped — every branch in flight with it —
    /// and the result is [`PlanError::Cancelled`]. Pass `token.cancelled()` of a
    /// [`CancellationToken`](crate::CancellationToken), a shutdown signal, or any future. A
    /// run that has finished when `cancel` completes keeps its result. A second call
    /// replaces the first.
    pub fn until(mut self, cancel: impl Future<Output = ()> + Send + 'a) -> Self {
        self.cancel = Some(Box::pin(cancel));
        self
    }

    /// With a deadline for the whole run: past `after`, the run is dropped and the result is
    /// [`PlanError::Timeout`] naming the plan. A second call replaces the first.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// Reporting every node's start, end, retries and waits to `monitor` — a
    /// [`Recorder`](crate::report::Recorder) made with
    /// [`Recorder::with_events`](crate::report::Recorder::with_events) for live progress, or
    /// your own. A second call replaces the first.
    pub fn monitor(mut self, monitor: &'a (dyn Monitor + 'a)) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// With everything `options` holds: its values for the tools, its cancellation token,
    /// its deadline and its monitor, each replacing what this run was given before.
    ///
    /// ```
    /// use plan_runtime::prelude::*;
    /// use plan_runtime::run::Options;
    ///
    /// fn forever(_: ()) -> impl std::future::Future<Output = ()> { std::future::pending() }
    /// let options = Options::new().timeout(Duration::from_millis(10));
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// assert!(plan! { forever }.run(()).options(&options).await.unwrap_err().is_timeout());
    /// # });
    /// ```
    pub fn options(mut self, options: &'a Options) -> Self {
        for value in options.values() {
            self.extensions = self.extensions.with_dyn(value);
        }
        if let Some(token) = options.cancellation() {
            self = self.until(token.cancelled());
        }
        if let Some(after) = options.deadline() {
            self.timeout = Some(after);
        }
        if let Some(monitor) = options.monitoring() {
            self.monitor = Some(monitor);
        }
        self
    }

    /// The run with its [`RunReport`](crate::report::RunReport): awaited, it gives the
    /// plan's result and the report (when every node started and ended, and where the time
    /// went; see [`report`](crate::report)). A monitor given with [`Run::monitor`] is told
    /// everything too.
    pub fn reported(self) -> Reported<'a, P, In, C, O> {
        Reported::new(self)
    }
}

impl<'a, P: ?Sized, In, C, O> Run<'a, P, In, C, O> {
    /// What the run starts with, taken out of it; `None` once it has started.
    fn take(&mut self) -> Option<Parts<'a, P, In, C>> {
        let input = self.input.take()?;
        Some(Parts {
            plan: self.plan,
            input,
            ctx: self.ctx,
            extensions: std::mem::take(&mut self.extensions),
            cancel: self.cancel.take(),
            timeout: self.timeout,
        })
    }
}

/// A run's configuration, as it starts.
struct Parts<'a, P: ?Sized, In, C> {
    plan: &'a P,
    input: In,
    ctx: &'a C,
    extensions: Extensions<'a>,
    cancel: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
    timeout: Option<Duration>,
}

impl<'a, P, In, C> Parts<'a, P, In, C>
where
    P: Plan<In, C> + ?Sized,
    In: Send,
    C: Sync,
{
    /// Runs the plan, reporting to `monitor`.
    async fn go(self, monitor: Option<&'a (dyn Monitor + 'a)>) -> Result<P::Out, PlanError> {
        let Parts {
            plan,
            input,
            ctx,
            extensions,
            cancel,
            timeout,
        } = self;
        let mut cx = Cx::root(ctx).extended(&extensions);
        if let Some(monitor) = &monitor {
            cx = cx.monitored(monitor);
        }
        let run = plan.call(input, cx);
        if cancel.is_none() && timeout.is_none() {
            // The common case polls the plan alone, not beside two futures that never end.
            return run.await;
        }
        let node = || {
            let info = plan.info();
            Box::new(info.map_or_else(|| NodeRef::current(&cx), NodeRef::from_info))
        };
        let cancelled = async {
            match cancel {
                Some(cancel) => cancel.await,
                None => std::future::pending().await,
            }
        };
        let expired = async {
            match timeout {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        // `biased`: a run that is done when cancellation or the deadline fires keeps its
        // result.
        futures::select_biased! {
            out = run.fuse() => out,
            () = cancelled.fuse() => Err(PlanError::Cancelled { node: node() }),
            () = expired.fuse() => Err(PlanError::Timeout {
                node: node(),
                after: timeout.unwrap_or_default(),
                group: None,
                votes: None,
            }),
        }
    }
}

impl<'a, P, In, C, O> Future for Run<'a, P, In, C, O>
where
    P: Plan<In, C, Out = O> + ?Sized,
    In: Send + 'a,
    C: Sync,
{
    type Output = Result<O, PlanError>;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.running.is_none()
            && let Some(parts) = this.take()
        {
            this.running = Some(Box::pin(parts.go(this.monitor)));
        }
        match &mut this.running {
            Some(running) => running.as_mut().poll(task),
            None => Poll::Pending,
        }
    }
}

impl<P: ?Sized, In, C, O> std::fmt::Debug for Run<'_, P, In, C, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("plan", &std::any::type_name::<P>())
            .field("extensions", &self.extensions)
            .field("cancellable", &self.cancel.is_some())
            .field("timeout", &self.timeout)
            .field("monitored", &self.monitor.is_some())
            .finish_non_exhaustive()
    }
}
