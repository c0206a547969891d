//! [`BoxPlan`]: a plan with its type erased, to keep plans of different types together or to
//! name a plan's type where `impl Plan` cannot go.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::cx::Cx;
use crate::error::PlanError;
use crate::graph::GraphBuilder;
use crate::node::NodeInfo;
use crate::plan::{Describe, Plan};

/// Any plan from `In` to `Out` with context `Ctx`, behind one type: a plan that can be kept in
/// a `Vec` or a `HashMap` with plans of other types, in a struct field, or returned from a
/// trait method. Made by [`Plan::boxed`] (or [`BoxPlan::new`]); it is a [`Plan`] itself, so it
/// runs, nests in a `plan!` and describes itself (its graph, and the names in its errors and
/// reports) exactly as the plan inside.
///
/// The plan is shared, in an [`Arc`]: cloning a `BoxPlan` is one reference-count increment,
/// whatever the plan holds and whether or not it is `Clone` itself. That is what handing a
/// plan out needs — to each spawned task, each request, each `plan!` it is nested in, from a
/// registry that keeps its own copy — and a plan is only ever called through `&self`, so
/// sharing it loses nothing.
///
/// Erasure costs, per run, one allocation (the boxed future) and one dynamic call; the rest
/// of the plan runs as it would unboxed. Keep plans unboxed where their type can be inferred
/// or written as `impl Plan<..>`, and box them where plans of different types must meet.
///
/// ```
/// use plan_core::{BoxPlan, Cx, Describe, Plan, PlanError};
///
/// struct Add(u32);
/// impl Describe for Add {}
/// impl Plan<u32> for Add {
///     type Out = u32;
///     async fn call(&self, input: u32, _cx: Cx<'_, ()>) -> Result<u32, PlanError> {
///         Ok(input + self.0)
///     }
/// }
///
/// struct Double;
/// impl Describe for Double {}
/// impl Plan<u32> for Double {
///     type Out = u32;
///     async fn call(&self, input: u32, _cx: Cx<'_, ()>) -> Result<u32, PlanError> {
///         Ok(input * 2)
///     }
/// }
///
/// // Two types, one `Vec`.
/// let plans: Vec<BoxPlan<u32, u32>> = vec![Add(1).boxed(), Double.boxed()];
/// # futures::executor::block_on(async {
/// let mut results = Vec::new();
/// for plan in &plans {
///     results.push(plan.call(20, Cx::root(&())).await.unwrap());
/// }
/// assert_eq!(results, [21, 40]);
/// # });
/// ```
pub struct BoxPlan<In, Out, Ctx = ()> {
    plan: Arc<dyn ErasedPlan<In, Out, Ctx>>,
}

/// A boxed future borrowing for `'a`.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The dyn-compatible face of [`Plan`], whose `call` returns an unnameable `impl Future` (so
/// there is no `dyn Plan`): the same call, with the future boxed.
trait ErasedPlan<In, Out, Ctx>: Describe + Send + Sync {
    fn call_boxed<'a>(
        &'a self,
        input: In,
        cx: Cx<'a, Ctx>,
    ) -> BoxFuture<'a, Result<Out, PlanError>>
    where
        In: 'a;
}

impl<In, Ctx, P: Plan<In, Ctx>> ErasedPlan<In, P::Out, Ctx> for P {
    fn call_boxed<'a>(
        &'a self,
        input: In,
        cx: Cx<'a, Ctx>,
    ) -> BoxFuture<'a, Result<P::Out, PlanError>>
    where
        In: 'a,
    {
        Box::pin(self.call(input, cx))
    }
}

impl<In, Out, Ctx> BoxPlan<In, Out, Ctx> {
    /// Erases `plan`'s type; the same as `plan.boxed()`.
    ///
    /// ```
    /// use plan_core::{BoxPlan, Cx, Describe, Plan, PlanError};
    ///
    /// struct Len;
    /// impl Describe for Len {}
    /// impl Plan<String> for Len {
    ///     type Out = usize;
    ///     async fn call(&self, input: String, _cx: Cx<'_, ()>) -> Result<usize, PlanError> {
    ///         Ok(input.len())
    ///     }
    /// }
    ///
    /// let len: BoxPlan<String, usize> = BoxPlan::new(Len);
    /// # futures::executor::block_on(async {
    /// assert_eq!(len.call("four".to_owned(), Cx::root(&())).await.unwrap(), 4);
    /// # });
    /// ```
    pub fn new<P>(plan: P) -> Self
    where
        P: Plan<In, Ctx, Out = Out> + 'static,
    {
        BoxPlan {
            plan: Arc::new(plan),
        }
    }
}

impl<In, Out, Ctx> Clone for BoxPlan<In, Out, Ctx> {
    fn clone(&self) -> Self {
        BoxPlan {
            plan: Arc::clone(&self.plan),
        }
    }
}

impl<In, Out, Ctx> fmt::Debug for BoxPlan<In, Out, Ctx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxPlan")
            .field("name", &self.plan.info().map(|info| info.name))
            .finish_non_exhaustive()
    }
}

impl<In, Out, Ctx> Describe for BoxPlan<In, Out, Ctx> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        self.plan.describe(graph, preds)
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        self.plan.info()
    }
}

impl<In: Send, Out: Send, Ctx: Sync> Plan<In, Ctx> for BoxPlan<In, Out, Ctx> {
    type Out = Out;

    // An `async fn`, not the boxed future returned as is: that future borrows `self` and `cx`
    // for one lifetime, their intersection, which a returned `impl Future` cannot name but
    // an `async fn`'s state can hold.
    async fn call(&self, input: In, cx: Cx<'_, Ctx>) -> Result<Out, PlanError> {
        self.plan.call_boxed(input, cx).await
    }

    /// Already boxed: returns itself rather than boxing the box.
    fn boxed(self) -> BoxPlan<In, Out, Ctx> {
        self
    }
}
