//! [`Reported`]: a run that gives its report with its result.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use plan_core::{Plan, PlanError};

use super::Run;
use super::tee::Tee;
use crate::report::{Recorder, RunReport};

/// A [`Run`] that gives its [`RunReport`] with its result, made by [`Run::reported`].
///
/// ```
/// use plan_runtime::prelude::*;
///
/// fn add_one(x: u32) -> u32 { x + 1 }
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let (out, report) = plan! { add_one >> add_one }.run(1).reported().await;
/// assert_eq!(out.unwrap(), 3);
/// assert_eq!(report.find_all("add_one").count(), 2);
/// # });
/// ```
#[must_use = "a run does nothing until it is awaited"]
pub struct Reported<'a, P: ?Sized, In, C, O> {
    run: Run<'a, P, In, C, O>,
    running: Option<ReportedFuture<'a, O>>,
}

type ReportedFuture<'a, O> =
    Pin<Box<dyn Future<Output = (Result<O, PlanError>, RunReport)> + Send + 'a>>;

// Nothing is pinned in place: the run's future is boxed.
impl<P: ?Sized, In, C, O> Unpin for Reported<'_, P, In, C, O> {}

impl<'a, P: ?Sized, In, C, O> Reported<'a, P, In, C, O> {
    pub(super) fn new(run: Run<'a, P, In, C, O>) -> Self {
        Reported { run, running: None }
    }
}

impl<'a, P, In, C, O> Future for Reported<'a, P, In, C, O>
where
    P: Plan<In, C, Out = O> + ?Sized,
    In: Send + 'a,
    C: Sync + 'a,
    O: 'a,
{
    type Output = (Result<O, PlanError>, RunReport);

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.running.is_none()
            && let Some(parts) = this.run.take()
        {
            let theirs = this.run.monitor;
            this.running = Some(Box::pin(async move {
                let recorder = Recorder::new();
                let out = match theirs {
                    Some(theirs) => {
                        let tee = Tee::new(&recorder, theirs);
                        parts.go(Some(&tee)).await
                    }
                    None => parts.go(Some(&recorder)).await,
                };
                (out, recorder.into_report())
            }));
        }
        match &mut this.running {
            Some(running) => running.as_mut().poll(task),
            None => Poll::Pending,
        }
    }
}

impl<P: ?Sized, In, C, O> std::fmt::Debug for Reported<'_, P, In, C, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reported")
            .field("run", &self.run)
            .field("started", &self.running.is_some())
            .finish()
    }
}
