//! [`Local`]: the engine that runs remote steps in this process — no server, for a plan's
//! tests and for a run on one machine.

use futures::future::BoxFuture;

use crate::{Done, Engine, Job, Registry, RemoteError, Signature};

/// Runs every job in this process with a [`Registry`], as worker `local` (or the name given):
/// the plan is the same as on workers, its steps run where it runs. Dropping a dispatch
/// drops the step's run. A key is never dispatched twice in one process (each call of a
/// remote step has a key of its own, and a process that dies takes its runs with it), so
/// `Local` keeps no results.
///
/// ```
/// use plan_remote::{Local, Registry, Remote};
/// use plan_runtime::prelude::*;
///
/// fn square(n: u32) -> u64 { u64::from(n) * u64::from(n) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let remote = Remote::new(Local::new(Registry::new().step("square", plan! { square })));
/// let square = remote.step::<u32, u64>("square").await.unwrap();
/// assert_eq!(plan! { (square) }.run(7).await.unwrap(), 49);
/// # });
/// ```
#[derive(Debug)]
pub struct Local {
    registry: Registry,
    worker: String,
}

impl Local {
    /// Runs the jobs of `registry`'s steps, as worker `local`.
    pub fn new(registry: Registry) -> Self {
        Local {
            registry,
            worker: "local".to_owned(),
        }
    }

    /// Named `worker` (in reports and errors).
    pub fn worker(self, worker: impl Into<String>) -> Self {
        Local {
            worker: worker.into(),
            ..self
        }
    }
}

impl Engine for Local {
    fn name(&self) -> &str {
        "this process"
    }

    fn served<'a>(
        &'a self,
        step: &'a str,
    ) -> BoxFuture<'a, Result<Option<Signature>, RemoteError>> {
        Box::pin(std::future::ready(Ok(self.registry.signature(step))))
    }

    fn dispatch(&self, job: Job) -> BoxFuture<'_, Result<Done, RemoteError>> {
        let run = self.registry.run(&self.worker, job);
        Box::pin(async move { Ok(run.await) })
    }
}
