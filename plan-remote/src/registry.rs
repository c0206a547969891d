//! [`Registry`]: the steps a worker serves, by name, each a typed plan behind JSON.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use plan_runtime::budget::{Budget, Left, Spent};
use plan_runtime::{Plan, PlanExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Done, Job, Outcome, Signature};

/// The steps a worker serves: plans from a serde input to a serde output, each under a name
/// that coordinators call it by ([`Remote::step`](crate::Remote::step)).
///
/// ```
/// use plan_remote::{Registry, Signature};
/// use plan_runtime::prelude::*;
///
/// fn square(n: u32) -> u64 { u64::from(n) * u64::from(n) }
/// let registry = Registry::new().step("square", plan! { square });
/// assert_eq!(registry.signature("square"), Some(Signature::of::<u32, u64>()));
/// assert_eq!(registry.names().collect::<Vec<_>>(), ["square"]);
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    steps: BTreeMap<String, Arc<dyn Served>>,
}

/// A served step, its types erased.
pub(crate) trait Served: Send + Sync {
    fn signature(&self) -> Signature;

    /// Runs the step on `input`, with a budget of `budget` if given; its output or why it
    /// failed, and what it spent. A panic is a failure, not the end of the worker.
    fn call(
        &self,
        input: serde_json::Value,
        budget: Option<Left>,
    ) -> BoxFuture<'static, (Result<serde_json::Value, String>, Option<Spent>)>;
}

struct Typed<P, In, Out> {
    plan: Arc<P>,
    types: std::marker::PhantomData<fn(In) -> Out>,
}

impl<P, In, Out> Served for Typed<P, In, Out>
where
    P: Plan<In, (), Out = Out> + Send + Sync + 'static,
    In: DeserializeOwned + Send + 'static,
    Out: Serialize + Send + 'static,
{
    fn signature(&self) -> Signature {
        Signature::of::<In, Out>()
    }

    fn call(
        &self,
        input: serde_json::Value,
        budget: Option<Left>,
    ) -> BoxFuture<'static, (Result<serde_json::Value, String>, Option<Spent>)> {
        let plan = Arc::clone(&self.plan);
        Box::pin(async move {
            let input: In = match serde_json::from_value(input) {
                Ok(input) => input,
                Err(e) => return (Err(format!("its input cannot be read: {e}")), None),
            };
            let budget = budget.map(|left| left.budget());
            let run = match &budget {
                Some(budget) => plan.run(input).with(budget),
                None => plan.run(input),
            };
            let out = match AssertUnwindSafe(run).catch_unwind().await {
                Ok(Ok(out)) => {
                    serde_json::to_value(out).map_err(|e| format!("its output cannot be sent: {e}"))
                }
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("it panicked".to_owned()),
            };
            (out, budget.as_ref().map(Budget::spent))
        })
    }
}

impl Registry {
    /// No steps yet.
    pub fn new() -> Self {
        Registry::default()
    }

    /// With `plan` served as step `name` (a later step of the same name replaces it).
    pub fn step<P, In, Out>(mut self, name: &str, plan: P) -> Self
    where
        P: Plan<In, (), Out = Out> + Send + Sync + 'static,
        In: DeserializeOwned + Send + 'static,
        Out: Serialize + Send + 'static,
    {
        let typed = Typed {
            plan: Arc::new(plan),
            types: std::marker::PhantomData,
        };
        self.steps.insert(name.to_owned(), Arc::new(typed));
        self
    }

    /// The names of the steps, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.steps.keys().map(String::as_str)
    }

    /// The signature step `name` is served with, if it is.
    pub fn signature(&self, name: &str) -> Option<Signature> {
        self.steps.get(name).map(|step| step.signature())
    }

    /// Runs `job` as worker `worker`: checks that the step is served here with the
    /// signature the job expects, runs it, and says how it came out. What any engine's
    /// worker does with a job it took.
    ///
    /// ```
    /// use plan_remote::{Job, Outcome, Registry, Signature};
    /// use plan_runtime::prelude::*;
    ///
    /// fn square(n: u32) -> u64 { u64::from(n) * u64::from(n) }
    /// let registry = Registry::new().step("square", plan! { square });
    /// let job = Job {
    ///     step: "square".into(),
    ///     key: "run.0.1".into(),
    ///     signature: Signature::of::<u32, u64>(),
    ///     input: serde_json::json!(7),
    ///     budget: None,
    /// };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let done = registry.run("w1", job).await;
    /// assert_eq!((done.worker.as_str(), done.outcome), ("w1", Outcome::Output(serde_json::json!(49))));
    /// # });
    /// ```
    pub fn run(&self, worker: &str, job: Job) -> impl Future<Output = Done> + Send + 'static {
        let worker = worker.to_owned();
        let step = self.steps.get(&job.step).cloned();
        async move {
            let outcome = |outcome, spent| Done {
                worker: worker.clone(),
                outcome,
                spent,
            };
            let Some(step) = step else {
                let why = format!("worker `{worker}` does not serve step `{}`", job.step);
                return outcome(Outcome::Failed(why), None);
            };
            let served = step.signature();
            if served != job.signature {
                let why = format!(
                    "the plan calls it as `{}`, worker `{worker}` serves it as `{served}`",
                    job.signature
                );
                return outcome(Outcome::Failed(why), None);
            }
            match step.call(job.input, job.budget).await {
                (Ok(output), spent) => outcome(Outcome::Output(output), spent),
                (Err(why), spent) => outcome(Outcome::Failed(why), spent),
            }
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.steps
                    .iter()
                    .map(|(name, step)| (name, step.signature())),
            )
            .finish()
    }
}
