//! [`Observe`]: running a plan with a [`Recorder`].

use std::future::Future;

use plan_core::{Cx, Extensions, Monitor, Plan, PlanError};

use super::record::RunReport;
use super::recorder::Recorder;

/// Runs a plan while recording it; implemented for every [`Plan`]. Plans without a context
/// also have [`Run::run_reported`](crate::Run::run_reported).
///
/// ```
/// use plan_runtime::prelude::*;
///
/// struct Config { factor: u32 }
/// fn scale(x: u32, cfg: &Config) -> u32 { x * cfg.factor }
/// let p = plan! { scale >> scale };
///
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// # rt.block_on(async {
/// let (out, report) = p.run_reported_with(2, &Config { factor: 3 }).await;
/// assert_eq!(out.unwrap(), 18);
/// assert_eq!(report.find_all("scale").count(), 2);
/// # });
/// ```
pub trait Observe<In, Ctx>: Plan<In, Ctx> {
    /// Runs the plan with `ctx` and returns its result together with its [`RunReport`].
    fn run_reported_with(
        &self,
        input: In,
        ctx: &Ctx,
    ) -> impl Future<Output = (Result<Self::Out, PlanError>, RunReport)> + Send
    where
        In: Send,
        Ctx: Sync,
    {
        async move {
            let none = Extensions::new();
            self.run_reported_extended(input, ctx, &none).await
        }
    }

    /// [`Observe::run_reported_with`], with [`Extensions`] for the tools inside the plan.
    fn run_reported_extended<'e>(
        &'e self,
        input: In,
        ctx: &'e Ctx,
        extensions: &'e Extensions<'e>,
    ) -> impl Future<Output = (Result<Self::Out, PlanError>, RunReport)> + Send
    where
        In: Send,
        Ctx: Sync,
    {
        async move {
            let recorder = Recorder::new();
            let monitor: &dyn Monitor = &recorder;
            let cx = Cx::root(ctx).monitored(&monitor).extended(extensions);
            let out = self.call(input, cx).await;
            (out, recorder.into_report())
        }
    }

    /// Runs the plan with `ctx`, reporting to `recorder` (made with
    /// [`Recorder::with_events`] for live progress).
    fn run_recorded(
        &self,
        input: In,
        ctx: &Ctx,
        recorder: &Recorder,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send
    where
        In: Send,
        Ctx: Sync,
    {
        async move {
            let monitor: &dyn Monitor = recorder;
            self.call(input, Cx::root(ctx).monitored(&monitor)).await
        }
    }
}

impl<In, Ctx, P: Plan<In, Ctx> + ?Sized> Observe<In, Ctx> for P {}
