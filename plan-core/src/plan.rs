//! The `Plan` trait — a typed async arrow `In -> Result<Out, PlanError>` — and `Describe`.

use std::future::Future;

use crate::boxed::BoxPlan;
use crate::cx::Cx;
use crate::error::PlanError;
use crate::graph::{GraphBuilder, PlanGraph};
use crate::node::NodeInfo;

/// A plan, or any part of one: turns an `In` into an `Out`, asynchronously, given a shared
/// context `Ctx`.
///
/// Everything inside a `plan!` is a `Plan`: steps (plain functions and closures are adapted by
/// the macro), the combinators the macro builds, and whole plans, which nest. Implement it
/// yourself for a reusable step with its own state (a client, a prompt template); implement
/// [`Describe`] too (an empty `impl` will do).
///
/// A plan is a value: `Send + Sync`, reusable, and runnable many times at once. Dropping the
/// future returned by [`Plan::call`] cancels everything in flight.
///
/// ```
/// use plan_core::{Cx, Describe, Plan, PlanError};
///
/// struct Double;
/// impl Describe for Double {}
/// impl<C: Sync> Plan<u32, C> for Double {
///     type Out = u32;
///     async fn call(&self, input: u32, _cx: Cx<'_, C>) -> Result<u32, PlanError> {
///         Ok(input * 2)
///     }
/// }
///
/// # futures::executor::block_on(async {
/// assert_eq!(Double.call(21, Cx::root(&())).await.unwrap(), 42);
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "this is not a plan that takes `{In}` with context `{Ctx}`",
    label = "not a `Plan<{In}, {Ctx}>`",
    note = "if the `plan!` has a `mismatched types in plan` error, fix that first: this one follows from it",
    note = "a plan whose steps take a context `&Ctx` runs with `plan.run(input).ctx(&ctx)`",
    note = "otherwise, check what the plan's first step takes"
)]
pub trait Plan<In, Ctx = ()>: Describe + Send + Sync {
    /// What the plan produces.
    type Out: Send;

    /// Runs the plan on `input`. Nothing happens until the future is polled; dropping it
    /// cancels the run.
    fn call(
        &self,
        input: In,
        cx: Cx<'_, Ctx>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send;

    /// [`call`](Plan::call), for a caller that calls it from inside a poll that catches panics
    /// (so that code run by the call itself is treated as code run by a poll) in a run whose
    /// nodes are not [observed](Cx::observed): the plan may then start at once rather than on
    /// the first poll, and skip what is only there for observers. `plan!`'s sequences call
    /// their steps this way; nothing else needs to, and the default is `call`.
    #[doc(hidden)]
    fn call_inline(
        &self,
        input: In,
        cx: Cx<'_, Ctx>,
    ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
        self.call(input, cx)
    }

    /// This plan with its type erased, as a [`BoxPlan`]: for a `Vec` or a registry of plans
    /// of different types, a struct field, or a trait method's return type. Cloning the
    /// result is cheap (the plan is shared); running it costs one allocation more.
    ///
    /// ```
    /// use plan_core::{BoxPlan, Cx, Describe, Plan, PlanError};
    ///
    /// struct Greet;
    /// impl Describe for Greet {}
    /// impl Plan<&'static str> for Greet {
    ///     type Out = String;
    ///     async fn call(&self, name: &'static str, _: Cx<'_, ()>) -> Result<String, PlanError> {
    ///         Ok(format!("hello, {name}"))
    ///     }
    /// }
    ///
    /// let greet: BoxPlan<&'static str, String> = Greet.boxed();
    /// # futures::executor::block_on(async {
    /// assert_eq!(greet.clone().call("plans", Cx::root(&())).await.unwrap(), "hello, plans");
    /// # });
    /// ```
    fn boxed(self) -> BoxPlan<In, Self::Out, Ctx>
    where
        Self: Sized + 'static,
    {
        BoxPlan::new(self)
    }
}

/// The part of a plan that does not depend on its input type: how it describes itself.
///
/// Every [`Plan`] is `Describe`. For your own step types an empty `impl Describe for MyStep {}`
/// is enough: the node the `plan!` macro wraps around it carries its name and location.
///
/// ```
/// use plan_core::Describe;
/// struct MyStep;
/// impl Describe for MyStep {}
/// assert!(MyStep.graph().nodes.is_empty());
/// ```
pub trait Describe {
    /// Adds this node's graph nodes with edges from `preds`; returns the nodes data leaves by.
    /// The default adds nothing (a leaf's node is added by the wrapper around it).
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        let _ = graph;
        preds.to_vec()
    }

    /// The static identity of this node, when the `plan!` macro made it.
    fn info(&self) -> Option<&'static NodeInfo> {
        None
    }

    /// This plan as a graph, for [`PlanGraph::to_mermaid`], [`PlanGraph::to_dot`] or serde.
    fn graph(&self) -> PlanGraph {
        let mut builder = GraphBuilder::new();
        self.describe(&mut builder, &[]);
        builder.finish()
    }
}

// A plan behind a pointer is that plan: it describes and runs as the plan it points to, so a
// boxed, shared (`Arc`) or borrowed plan is a step of `plan!` as it is — nested, with its
// nodes named, like the plan itself.
macro_rules! plan_through {
    ($($pointer:ty),*) => {$(
        impl<P: Describe + ?Sized> Describe for $pointer {
            fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
                (**self).describe(graph, preds)
            }

            fn info(&self) -> Option<&'static NodeInfo> {
                (**self).info()
            }
        }

        impl<In, Ctx, P: Plan<In, Ctx> + ?Sized> Plan<In, Ctx> for $pointer {
            type Out = P::Out;

            fn call(
                &self,
                input: In,
                cx: Cx<'_, Ctx>,
            ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
                (**self).call(input, cx)
            }
        }
    )*};
}

plan_through!(&P, Box<P>, std::sync::Arc<P>);
