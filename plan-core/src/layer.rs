//! Layers: what wraps a plan in another plan with the same input and output — a deadline,
//! retries, a rate limit, a cache, an audit log — as tower's `Layer` wraps a `Service`.
//!
//! * [`Layer`] takes a plan and gives a plan;
//! * [`Middleware`] is the one method most wrappers need: what to do around one call of the
//!   plan inside. [`around`] makes a layer of it, and the [`Layered`] plan it gives runs,
//!   describes itself and names its errors as the plan inside (its graph is unchanged), so a
//!   wrapper needs no `Plan` or `Describe` of its own;
//! * [`Layers`] stacks layers, the first one added outermost.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use plan_core::layer::{Layer, Middleware, around};
//! use plan_core::{Cx, Describe, Plan, PlanError};
//!
//! /// Answers a question it has seen from memory. (Cloned into every plan it wraps, which
//! /// share one memory.)
//! #[derive(Clone, Default)]
//! struct Cache(Arc<Mutex<HashMap<u32, u32>>>);
//!
//! impl Describe for Cache {}
//! impl<C: Sync> Middleware<u32, u32, C> for Cache {
//!     async fn around<P>(&self, n: u32, cx: Cx<'_, C>, next: &P) -> Result<u32, PlanError>
//!     where
//!         P: Plan<u32, C, Out = u32>,
//!     {
//!         if let Some(hit) = self.0.lock().unwrap().get(&n) {
//!             return Ok(*hit);
//!         }
//!         let out = next.call(n, cx).await?;
//!         self.0.lock().unwrap().insert(n, out);
//!         Ok(out)
//!     }
//! }
//!
//! # struct Square;
//! # impl Describe for Square {}
//! # impl Plan<u32> for Square {
//! #     type Out = u32;
//! #     async fn call(&self, n: u32, _: Cx<'_, ()>) -> Result<u32, PlanError> { Ok(n * n) }
//! # }
//! // `Square` is any plan from `u32` to `u32`.
//! let cached = around(Cache::default()).layer(Square);
//! # futures::executor::block_on(async {
//! assert_eq!(cached.call(7, Cx::root(&())).await.unwrap(), 49);
//! assert_eq!(cached.middleware().0.lock().unwrap()[&7], 49);
//! # });
//! ```

use std::future::Future;

use crate::cx::Cx;
use crate::error::PlanError;
use crate::graph::GraphBuilder;
use crate::node::NodeInfo;
use crate::plan::{Describe, Plan};

/// Wraps a plan `P` in another plan, [`Layer::Plan`]: a deadline, retries, limits, a cache.
///
/// A layer is a value that can wrap many plans (it is used through `&self`); state it keeps
/// (a rate limit, a cache) is shared by the plans it wraps when it clones into them shared
/// (an `Arc`). Most layers are a [`Middleware`] made a layer with [`around`]; implement
/// `Layer` yourself for a wrapper that changes the plan's input or output type.
///
/// ```
/// use plan_core::layer::Layer;
///
/// /// Wraps a plan in a `Box`: the plan, with its type half-erased.
/// struct Boxed;
/// impl<P> Layer<P> for Boxed {
///     type Plan = Box<P>;
///     fn layer(&self, plan: P) -> Box<P> {
///         Box::new(plan)
///     }
/// }
/// let boxed: Box<u8> = Boxed.layer(7);
/// assert_eq!(*boxed, 7);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a layer",
    label = "not a `Layer`",
    note = "a `Middleware` is made a layer with `around(..)`: `#[layer(around(cache))]`, or `let cache = around(Cache::new());` then `#[layer(cache)]`"
)]
pub trait Layer<P> {
    /// The wrapped plan.
    type Plan;

    /// Wraps `plan`.
    fn layer(&self, plan: P) -> Self::Plan;
}

/// What a wrapper does around one call of the plan inside it (`next`): look in a cache
/// first, write an audit line, wait for a rate limit, cut the call off at a deadline, call
/// it again on failure. Made a [`Layer`] by [`around`]; the [`Layered`] plan it gives has the
/// input, output, graph and node names of the plan inside.
///
/// A middleware is [`Describe`] too: an empty `impl Describe for MyMiddleware {}` leaves the
/// graph of the plan inside as it is. A middleware that the graph should show marks the
/// node it wraps (as `#[timeout]` does with [`GraphBuilder::set_timeout`]) and returns
/// `preds`; it adds no node of its own.
///
/// An error of the middleware's own names the node being run, as a step's error does:
/// `PlanError::step(NodeRef::current(&cx), error)`. Errors of `next` pass through as they
/// are, naming the node inside that failed.
///
/// ```
/// use plan_core::layer::{Layer, Middleware, around};
/// use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};
///
/// /// Refuses input over a size.
/// #[derive(Clone)]
/// struct AtMost(u32);
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("{0} is over the limit")]
/// struct TooBig(u32);
///
/// impl Describe for AtMost {}
/// impl<O: Send, C: Sync> Middleware<u32, O, C> for AtMost {
///     async fn around<P>(&self, n: u32, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
///     where
///         P: Plan<u32, C, Out = O>,
///     {
///         if n > self.0 {
///             return Err(PlanError::step(NodeRef::current(&cx), TooBig(n)));
///         }
///         next.call(n, cx).await
///     }
/// }
///
/// # struct Double;
/// # impl Describe for Double {}
/// # impl Plan<u32> for Double {
/// #     type Out = u32;
/// #     async fn call(&self, n: u32, _: Cx<'_, ()>) -> Result<u32, PlanError> { Ok(n * 2) }
/// # }
/// let guarded = around(AtMost(10)).layer(Double);
/// # futures::executor::block_on(async {
/// assert_eq!(guarded.call(4, Cx::root(&())).await.unwrap(), 8);
/// let err = guarded.call(11, Cx::root(&())).await.unwrap_err();
/// assert_eq!(err.step_error::<TooBig>().unwrap().0, 11);
/// # });
/// ```
pub trait Middleware<In, Out, Ctx = ()>: Describe + Send + Sync {
    /// Runs `next`, the plan inside, on `input` — or not, or more than once — and returns
    /// what the wrapped plan returns.
    fn around<P>(
        &self,
        input: In,
        cx: Cx<'_, Ctx>,
        next: &P,
    ) -> impl Future<Output = Result<Out, PlanError>> + Send
    where
        P: Plan<In, Ctx, Out = Out>;
}

/// A plan wrapped in a [`Middleware`]: made by the layer [`around`] gives (or
/// [`Layered::new`]). It is a [`Plan`] with the input and output of the plan inside, and
/// describes itself as that plan does (its graph and node names are the same), with the
/// marks the middleware puts on it.
#[derive(Clone, Debug)]
pub struct Layered<M, P> {
    middleware: M,
    inner: P,
}

impl<M, P> Layered<M, P> {
    /// `inner`, wrapped in `middleware`.
    ///
    /// ```
    /// use plan_core::layer::Layered;
    /// let layered = Layered::new("middleware", "plan");
    /// assert_eq!((*layered.middleware(), *layered.inner()), ("middleware", "plan"));
    /// ```
    pub fn new(middleware: M, inner: P) -> Self {
        Layered { middleware, inner }
    }

    /// The middleware around the plan.
    pub fn middleware(&self) -> &M {
        &self.middleware
    }

    /// The plan inside.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<M: Describe, P: Describe> Describe for Layered<M, P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        // The middleware marks the node it wraps; its nodes are those of the plan inside.
        self.middleware.describe(graph, preds);
        self.inner.describe(graph, preds)
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        self.inner.info()
    }
}

impl<In, Ctx, M, P> Plan<In, Ctx> for Layered<M, P>
where
    P: Plan<In, Ctx>,
    M: Middleware<In, P::Out, Ctx>,
{
    type Out = P::Out;

    fn call(
        &self,
        input: In,
        cx: Cx<'_, Ctx>,
    ) -> impl Future<Output = Result<P::Out, PlanError>> + Send {
        self.middleware.around(input, cx, &self.inner)
    }
}

/// The layer that wraps plans in a clone of `middleware`; see [`Middleware`].
///
/// ```
/// use plan_core::layer::{Layer, around};
/// # use plan_core::{Cx, Describe, Plan, PlanError, layer::Middleware};
/// # #[derive(Clone)] struct Audit;
/// # impl Describe for Audit {}
/// # impl<I: Send, O: Send, C: Sync> Middleware<I, O, C> for Audit {
/// #     async fn around<P: Plan<I, C, Out = O>>(&self, i: I, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError> {
/// #         next.call(i, cx).await
/// #     }
/// # }
/// # struct Fetch;
/// # impl Describe for Fetch {}
/// # impl Plan<u32> for Fetch {
/// #     type Out = u32;
/// #     async fn call(&self, n: u32, _: Cx<'_, ()>) -> Result<u32, PlanError> { Ok(n) }
/// # }
/// let audited = around(Audit);
/// let fetch = audited.layer(Fetch);
/// # futures::executor::block_on(async {
/// assert_eq!(fetch.call(3, Cx::root(&())).await.unwrap(), 3);
/// # });
/// ```
pub fn around<M>(middleware: M) -> Around<M> {
    Around(middleware)
}

/// The [`Layer`] of a [`Middleware`], made by [`around`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Around<M>(M);

// Not listed in an error about a type that is not a layer (nor are the impls below): the
// trait's note says what to do.
#[diagnostic::do_not_recommend]
impl<M: Clone, P> Layer<P> for Around<M> {
    type Plan = Layered<M, P>;

    fn layer(&self, plan: P) -> Layered<M, P> {
        Layered::new(self.0.clone(), plan)
    }
}

/// Layers stacked, the first one added outermost (as tower's `ServiceBuilder` stacks them):
/// `Layers::new().layer(a).layer(b).wrap(plan)` is `a.layer(b.layer(plan))`. A `Layers` is
/// a [`Layer`] itself.
///
/// ```
/// use plan_core::layer::{Layer, Layers};
///
/// /// Tags a plan (here, a string) with a name, to see the order.
/// struct Tag(&'static str);
/// impl Layer<String> for Tag {
///     type Plan = String;
///     fn layer(&self, plan: String) -> String {
///         format!("{}({plan})", self.0)
///     }
/// }
///
/// let stack = Layers::new().layer(Tag("timeout")).layer(Tag("retry"));
/// assert_eq!(stack.wrap("call".to_string()), "timeout(retry(call))");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Layers<L = Identity>(L);

impl Layers {
    /// No layers: wraps a plan in nothing.
    pub fn new() -> Self {
        Layers(Identity)
    }
}

impl<L> Layers<L> {
    /// These layers, with `layer` inside them all (around the plan, under the layers added
    /// before it).
    pub fn layer<M>(self, layer: M) -> Layers<Stack<L, M>> {
        Layers(Stack {
            outer: self.0,
            inner: layer,
        })
    }

    /// `plan`, wrapped in every layer.
    pub fn wrap<P>(&self, plan: P) -> L::Plan
    where
        L: Layer<P>,
    {
        self.0.layer(plan)
    }
}

#[diagnostic::do_not_recommend]
impl<L: Layer<P>, P> Layer<P> for Layers<L> {
    type Plan = L::Plan;

    fn layer(&self, plan: P) -> L::Plan {
        self.0.layer(plan)
    }
}

/// The layer that wraps nothing: `Identity.layer(plan)` is `plan`.
///
/// ```
/// use plan_core::layer::{Identity, Layer};
/// assert_eq!(Identity.layer(3), 3);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

#[diagnostic::do_not_recommend]
impl<P> Layer<P> for Identity {
    type Plan = P;

    fn layer(&self, plan: P) -> P {
        plan
    }
}

/// Two layers, `outer` around `inner`; made by [`Layers::layer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Stack<Outer, Inner> {
    outer: Outer,
    inner: Inner,
}

#[diagnostic::do_not_recommend]
impl<P, Outer, Inner> Layer<P> for Stack<Outer, Inner>
where
    Inner: Layer<P>,
    Outer: Layer<Inner::Plan>,
{
    type Plan = Outer::Plan;

    fn layer(&self, plan: P) -> Outer::Plan {
        self.outer.layer(self.inner.layer(plan))
    }
}
