//! Running a plan that needs no context.

use std::future::Future;

use plan_core::{Cx, Plan, PlanError};

use crate::report::{Observe, RunReport};

/// `plan.run(input)` for plans whose steps need no context (`Ctx = ()`); use
/// [`Plan::run_with`] to pass one and [`Plan::run_until`] to cancel from outside.
///
/// ```
/// use plan_runtime::prelude::*;
///
/// fn add_one(x: u32) -> u32 { x + 1 }
/// let p = plan! { add_one >> add_one };
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(p.run(1)).unwrap(), 3);
/// ```
pub trait Run<In>: Plan<In, ()> {
    /// Runs the plan on `input`. Dropping the future cancels the run: every branch in flight
    /// is dropped with it.
    fn run(&self, input: In) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        self.call(input, Cx::root(&()))
    }

    /// Runs the plan on `input` and returns its result together with its [`RunReport`]: when
    /// every node started and ended, and where the time went. See [`report`](crate::report).
    fn run_reported(
        &self,
        input: In,
    ) -> impl Future<Output = (Result<Self::Out, PlanError>, RunReport)> + Send
    where
        In: Send,
    {
        self.run_reported_with(input, &())
    }
}

impl<In, P: Plan<In, ()> + ?Sized> Run<In> for P {}
