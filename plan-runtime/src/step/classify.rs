//! Classifying a step value by its signature, when the plan is built.
//!
//! This is autoref-based specialization: `(&&&…&Probe(&f)).kind()` resolves to the trait
//! implemented for the most references whose bounds `f` meets, so the most specific shape
//! wins (a plan value over a function; `Result<_, PlanError>` over `Result<_, E>` over a plain
//! value; async over sync). Method resolution sees the function's own signature, so the input
//! type is known here even before the plan's input is.

use std::future::Future;
use std::marker::PhantomData;

use plan_core::{Describe, PlanError};

use super::{BoxError, CtxAsyncFn, FnStep};
use crate::blocking::Blocking;
use crate::node::Nested;

/// Holds a reference to the value being classified.
pub struct Probe<'a, T>(pub &'a T);

/// The classification result; [`Wrap`] applies it to the value.
pub struct Tag<K>(PhantomData<fn() -> K>);

/// A step that returns its output directly (a sync function) and takes `I`.
pub struct Returns<I, R>(PhantomData<fn(I) -> R>);
/// A step that returns a future of its output (an async function) and takes `I`.
pub struct Awaits<I, R>(PhantomData<fn(I) -> R>);
/// The step's second argument is `&C`; `R` says what it returns.
pub struct WithCtx<C, R>(PhantomData<fn(&C) -> R>);
/// The step returns its output as is.
pub struct Plain;
/// The step returns `Result<_, E>` with `E: Into<Box<dyn Error + Send + Sync>>`.
pub struct Fallible;
/// The step returns `Result<_, PlanError>`.
pub struct PlanResult;
/// The value is itself a plan.
pub struct IsPlan;
/// The value is neither a plan nor a function of a step's shape.
pub struct Unusable;

/// A value that is neither a plan nor a function of a step's shape, as `step!` classified
/// it: it runs nowhere, and `plan!` reports it on the step.
pub struct NotAStep<F>(F);

impl<K> Tag<K> {
    fn new() -> Self {
        Tag(PhantomData)
    }
}

/// Defines one classification level: a trait implemented for `Probe` behind `$refs`.
macro_rules! level {
    ($trait:ident <$($p:ident),*> [$($g:ident),*] for [$($refs:tt)*] -> $kind:ty where $($bounds:tt)*) => {
        #[doc(hidden)]
        pub trait $trait<$($p),*> {
            fn kind(&self) -> Tag<$kind> {
                Tag::new()
            }
        }
        impl<'a, F $(, $p)* $(, $g)*> $trait<$($p),*> for $($refs)* Probe<'a, F>
        where
            $($bounds)*
        {
        }
    };
}

// Highest priority first: the level reached through the most references.
#[doc(hidden)]
pub trait ClassifyPlan {
    fn kind(&self) -> Tag<IsPlan> {
        Tag::new()
    }
}
impl<F: Describe> ClassifyPlan for &&&&&&&&&&&&&Probe<'_, F> {}

level!(AsyncCtxPlanResult<I, C> [O] for [&&&&&&&&&&&&] -> Awaits<I, WithCtx<C, PlanResult>>
    where F: for<'c> CtxAsyncFn<'c, I, C, Ret = Result<O, PlanError>>);
level!(AsyncCtxFallible<I, C> [O, E] for [&&&&&&&&&&&] -> Awaits<I, WithCtx<C, Fallible>>
    where F: for<'c> CtxAsyncFn<'c, I, C, Ret = Result<O, E>>, E: Into<BoxError>);
level!(AsyncCtxPlain<I, C> [O] for [&&&&&&&&&&] -> Awaits<I, WithCtx<C, Plain>>
    where F: for<'c> CtxAsyncFn<'c, I, C, Ret = O>);
level!(SyncCtxPlanResult<I, C> [O] for [&&&&&&&&&] -> Returns<I, WithCtx<C, PlanResult>>
    where F: Fn(I, &C) -> Result<O, PlanError>);
level!(SyncCtxFallible<I, C> [O, E] for [&&&&&&&&] -> Returns<I, WithCtx<C, Fallible>>
    where F: Fn(I, &C) -> Result<O, E>, E: Into<BoxError>);
level!(SyncCtxPlain<I, C> [O] for [&&&&&&&] -> Returns<I, WithCtx<C, Plain>>
    where F: Fn(I, &C) -> O);
level!(AsyncPlanResult<I> [O, Fut] for [&&&&&&] -> Awaits<I, PlanResult>
    where F: Fn(I) -> Fut, Fut: Future<Output = Result<O, PlanError>>);
level!(AsyncFallible<I> [O, E, Fut] for [&&&&&] -> Awaits<I, Fallible>
    where F: Fn(I) -> Fut, Fut: Future<Output = Result<O, E>>, E: Into<BoxError>);
level!(AsyncPlain<I> [O, Fut] for [&&&&] -> Awaits<I, Plain>
    where F: Fn(I) -> Fut, Fut: Future<Output = O>);
level!(SyncPlanResult<I> [O] for [&&&] -> Returns<I, PlanResult>
    where F: Fn(I) -> Result<O, PlanError>);
level!(SyncFallible<I> [O, E] for [&&] -> Returns<I, Fallible>
    where F: Fn(I) -> Result<O, E>, E: Into<BoxError>);
level!(SyncPlain<I> [O] for [&] -> Returns<I, Plain>
    where F: Fn(I) -> O);

// Lowest: anything else. It is kept as a `NotAStep`, which `plan!` reports as one error naming
// the step, rather than as a method that cannot be called (with every level's bounds listed).
#[doc(hidden)]
pub trait ClassifyOther {
    fn kind(&self) -> Tag<Unusable> {
        Tag::new()
    }
}
impl<F> ClassifyOther for Probe<'_, F> {}

/// Classifies a value as a plan step and adapts it: a plain function or closure becomes a
/// [`FnStep`], a plan is nested as is. This is what `plan!` does with every leaf; use it to
/// build plans by hand from the combinators in [`nodes`](crate::nodes).
///
/// ```
/// use plan_runtime::prelude::*;
/// use plan_runtime::step;
///
/// async fn double(x: u32) -> u32 { x * 2 }
/// let double = step!(double);
/// # tokio_test_block_on(async {
/// assert_eq!(double.run(21).await.unwrap(), 42);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[macro_export]
macro_rules! step {
    ($f:expr) => {{
        // Evaluate the user's expression before the glob import below, which would otherwise
        // shadow the user's own items (a step called `wrap`).
        let f = $f;
        {
            #[allow(unused_imports)]
            use $crate::__private::classify::*;
            $crate::__private::classify::wrap(
                (&&&&&&&&&&&&&&$crate::__private::classify::Probe(&f)).kind(),
                f,
            )
        }
    }};
}

/// Applies a classification [`Tag`] to the value it was computed from.
#[doc(hidden)]
pub fn wrap<K, F>(tag: Tag<K>, f: F) -> <Tag<K> as Wrap<F>>::Out
where
    Tag<K>: Wrap<F>,
{
    tag.apply(f)
}

/// Applies a tag: functions become [`FnStep`]s, plans become [`Nested`] steps.
#[doc(hidden)]
pub trait Wrap<F> {
    type Out;
    fn apply(self, f: F) -> Self::Out;
}

impl<F> Wrap<F> for Tag<IsPlan> {
    type Out = Nested<F>;
    fn apply(self, f: F) -> Nested<F> {
        Nested::new(f)
    }
}

impl<F> Wrap<F> for Tag<Unusable> {
    type Out = NotAStep<F>;
    fn apply(self, f: F) -> NotAStep<F> {
        NotAStep(f)
    }
}

impl<F, I, R> Wrap<F> for Tag<Returns<I, R>> {
    type Out = FnStep<F, Returns<I, R>>;
    fn apply(self, f: F) -> Self::Out {
        FnStep::new(f)
    }
}

impl<F, I, R> Wrap<F> for Tag<Awaits<I, R>> {
    type Out = FnStep<F, Awaits<I, R>>;
    fn apply(self, f: F) -> Self::Out {
        FnStep::new(f)
    }
}

/// Holds a reference to a function passed to `blocking(..)` inside `plan!`.
pub struct BlockingProbe<'a, T>(pub &'a T);

#[doc(hidden)]
pub trait BlockingPlanResult<I> {
    fn blocking_kind(&self) -> Tag<PlanResult> {
        Tag::new()
    }
}
impl<F, I, O> BlockingPlanResult<I> for &&&BlockingProbe<'_, F> where
    F: Fn(I) -> Result<O, PlanError>
{
}

#[doc(hidden)]
pub trait BlockingFallible<I> {
    fn blocking_kind(&self) -> Tag<Fallible> {
        Tag::new()
    }
}
impl<F, I, O, E> BlockingFallible<I> for &&BlockingProbe<'_, F>
where
    F: Fn(I) -> Result<O, E>,
    E: Into<BoxError>,
{
}

#[doc(hidden)]
pub trait BlockingPlain<I> {
    fn blocking_kind(&self) -> Tag<Plain> {
        Tag::new()
    }
}
impl<F, I, O> BlockingPlain<I> for &BlockingProbe<'_, F> where F: Fn(I) -> O {}

// Anything else: `plan!` reports it on the step (see `ClassifyOther`).
#[doc(hidden)]
pub trait BlockingOther {
    fn blocking_kind(&self) -> Tag<Unusable> {
        Tag::new()
    }
}
impl<F> BlockingOther for BlockingProbe<'_, F> {}

/// Applies a `blocking` classification.
#[doc(hidden)]
pub fn wrap_blocking<K, F>(_tag: Tag<K>, f: F) -> Blocking<F, K> {
    Blocking::new(f)
}

/// `blocking(f)` with `f`'s return type classified like a step's: a plain value, a
/// `Result<_, E>`, or a `Result<_, PlanError>`. This is what `plan!` does with `blocking(..)`.
///
/// ```
/// use plan_runtime::prelude::*;
///
/// fn checksum(data: Vec<u8>) -> Result<u32, std::num::TryFromIntError> {
///     u32::try_from(data.iter().map(|&b| b as u64).sum::<u64>())
/// }
/// let step = plan_runtime::blocking!(checksum);
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(step.run(vec![1, 2, 3])).unwrap(), 6);
/// ```
#[macro_export]
macro_rules! blocking {
    ($f:expr) => {{
        let f = $f;
        {
            #[allow(unused_imports)]
            use $crate::__private::classify::*;
            $crate::__private::classify::wrap_blocking(
                (&&&&$crate::__private::classify::BlockingProbe(&f)).blocking_kind(),
                f,
            )
        }
    }};
}
