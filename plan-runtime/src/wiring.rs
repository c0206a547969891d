//! Compile-time wiring checks for `plan!`: how a step that does not fit is reported.
//!
//! Next to the plan it builds, the macro writes a *shadow* of the plan's dataflow: a block
//! under `if false`, type-checked but never run. Each value in it is [`Known<T>`] where the type of
//! the data at that point is fixed by a plain-function step, or [`Unknown`] (after a nested
//! plan, a custom step, `blocking`). Feeding a `Known<T>` into a function step that takes
//! another type fails [`Connects`], whose message names both types, on the step's own tokens —
//! instead of a page of combinator generics at the call of `run`.
//!
//! Dispatch between "function step" and "anything else" is autoref specialization, as in
//! [`step`](mod@crate::step).
//!
//! ```compile_fail,E0277
//! use plan_runtime::prelude::*;
//!
//! struct Query;
//! struct Hits;
//! fn parse(_: String) -> Query { Query }
//! fn merge(_: Hits) -> u32 { 0 }
//!
//! // error: mismatched types in plan: this step takes `Hits`, but it is given `Query`
//! let p = plan! { parse >> merge };
//! ```

use std::future::Future;
use std::marker::PhantomData;

use plan_core::{Lens, PlanError};

use crate::step::{Awaits, CtxAsyncFn, Fallible, FnStep, Plain, PlanResult, Returns, WithCtx};

/// The data at this point of the plan has type `T`.
pub struct Known<T>(PhantomData<fn() -> T>);

/// The type of the data at this point is not tracked.
#[derive(Clone, Copy)]
pub struct Unknown;

impl<T> Clone for Known<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Known<T> {}

fn known<T>() -> Known<T> {
    Known(PhantomData)
}

/// The input and output types of a function step of kind `K`.
pub trait StepSig<K> {
    /// What the step takes.
    type In;
    /// What the step produces (the success value, for fallible steps).
    type Out;
}

impl<F: Fn(I) -> O, I, O> StepSig<Returns<I, Plain>> for F {
    type In = I;
    type Out = O;
}
impl<F: Fn(I) -> Result<O, E>, I, O, E> StepSig<Returns<I, Fallible>> for F {
    type In = I;
    type Out = O;
}
impl<F: Fn(I) -> Result<O, PlanError>, I, O> StepSig<Returns<I, PlanResult>> for F {
    type In = I;
    type Out = O;
}
impl<F: Fn(I) -> Fut, I, Fut: Future> StepSig<Awaits<I, Plain>> for F {
    type In = I;
    type Out = Fut::Output;
}
impl<F: Fn(I) -> Fut, I, Fut: Future<Output = Result<O, E>>, O, E> StepSig<Awaits<I, Fallible>>
    for F
{
    type In = I;
    type Out = O;
}
impl<F: Fn(I) -> Fut, I, Fut: Future<Output = Result<O, PlanError>>, O>
    StepSig<Awaits<I, PlanResult>> for F
{
    type In = I;
    type Out = O;
}
impl<F: Fn(I, &C) -> O, I, C, O> StepSig<Returns<I, WithCtx<C, Plain>>> for F {
    type In = I;
    type Out = O;
}
impl<F: Fn(I, &C) -> Result<O, E>, I, C, O, E> StepSig<Returns<I, WithCtx<C, Fallible>>> for F {
    type In = I;
    type Out = O;
}
impl<F: Fn(I, &C) -> Result<O, PlanError>, I, C, O> StepSig<Returns<I, WithCtx<C, PlanResult>>>
    for F
{
    type In = I;
    type Out = O;
}
impl<F: for<'a> CtxAsyncFn<'a, I, C, Ret = O>, I, C, O> StepSig<Awaits<I, WithCtx<C, Plain>>>
    for F
{
    type In = I;
    type Out = O;
}
impl<F: for<'a> CtxAsyncFn<'a, I, C, Ret = Result<O, E>>, I, C, O, E>
    StepSig<Awaits<I, WithCtx<C, Fallible>>> for F
{
    type In = I;
    type Out = O;
}
impl<F: for<'a> CtxAsyncFn<'a, I, C, Ret = Result<O, PlanError>>, I, C, O>
    StepSig<Awaits<I, WithCtx<C, PlanResult>>> for F
{
    type In = I;
    type Out = O;
}

/// Holds two types that must be equal for the plan to be wired correctly.
pub struct Checked<Out, In>(PhantomData<fn(Out) -> In>);

/// The data flowing into a step must be what the step takes.
#[diagnostic::on_unimplemented(
    message = "mismatched types in plan: this step takes `{In}`, but it is given `{Out}`",
    label = "this step takes `{In}`, not `{Out}`",
    note = "the data comes from the step before `>>` (or the input of the enclosing `par`, `each`, `choose`, `focus` or `loop`)"
)]
pub trait Connects<Out, In> {}

#[diagnostic::do_not_recommend]
impl<T> Connects<T, T> for () {}

/// A second impl, never applicable, so that rustc does not unify `Out` and `In` through the
/// only impl (which turns the clear message above into a bare "mismatched types").
#[doc(hidden)]
pub enum Never {}
#[diagnostic::do_not_recommend]
impl Connects<Never, ()> for () {}

/// Fails to compile, with [`Connects`]' message, unless `Out` and `In` are the same type.
pub fn check<Out, In>(_: Checked<Out, In>)
where
    (): Connects<Out, In>,
{
}

/// Two types that a construct needs to be the same.
pub struct Agree<Found, Expected>(PhantomData<fn(Found) -> Expected>);

/// Arms of a `choose`, and branches of `first`, `first_completed`, `n_best` and `best`, must
/// produce one type; `loop` and `focus` bodies must give back what they take.
#[diagnostic::on_unimplemented(
    message = "mismatched types in plan: this produces `{Found}`, but `{Expected}` is needed here",
    label = "produces `{Found}`, expected `{Expected}`",
    note = "every arm of a `choose` and every branch of `par(first | first_completed | n_best | best)` produce the same type; a `loop` body returns the state it takes, and a `focus` body the part it takes"
)]
pub trait Agrees<Found, Expected> {}

#[diagnostic::do_not_recommend]
impl<T> Agrees<T, T> for () {}

#[diagnostic::do_not_recommend]
impl Agrees<Never, ()> for () {}

/// Fails to compile, with [`Agrees`]' message, unless `Found` and `Expected` are the same.
pub fn agree<Found, Expected>(_: Agree<Found, Expected>)
where
    (): Agrees<Found, Expected>,
{
}

/// A lens and the state it is applied to.
pub struct LensOn<L, S>(PhantomData<fn(L) -> S>);

/// Fails to compile, with [`Lens`]' message, unless `L` is a lens into `S`.
pub fn lens_fits<L: Lens<S>, S>(_: LensOn<L, S>) {}

/// The probes the shadow dispatches on; the macro brings them into scope with a glob import.
#[doc(hidden)]
pub mod probes {
    use super::*;

    /// What a step produces.
    pub struct OutProbe<'a, L>(pub &'a L);

    /// A step and what flows into it.
    pub struct FeedProbe<'a, L, S>(pub &'a L, pub S);

    /// The branch outputs of a `par`.
    pub struct TupleProbe<T>(pub T);

    /// Two shadows that must agree.
    pub struct SameProbe<A, B>(pub A, pub B);

    #[doc(hidden)]
    pub trait SameKnown {
        type Check;
        fn same(&self) -> Self::Check;
    }
    impl<A, B> SameKnown for &SameProbe<Known<A>, Known<B>> {
        type Check = Agree<A, B>;
        fn same(&self) -> Self::Check {
            Agree(PhantomData)
        }
    }
    #[doc(hidden)]
    pub trait SameOther {
        fn same(&self) -> Agree<(), ()> {
            Agree(PhantomData)
        }
    }
    impl<A, B> SameOther for SameProbe<A, B> {}

    /// What flows into an `each` body.
    pub struct ItemProbe<S>(pub S);

    /// What flows into a `focus` body.
    pub struct LensProbe<'a, L, S>(pub &'a L, pub S);

    #[doc(hidden)]
    pub trait OutFn {
        type Out;
        fn output(&self) -> Self::Out;
    }
    impl<F: StepSig<K>, K> OutFn for &OutProbe<'_, FnStep<F, K>> {
        type Out = Known<F::Out>;
        fn output(&self) -> Self::Out {
            known()
        }
    }
    #[doc(hidden)]
    pub trait OutOther {
        fn output(&self) -> Unknown {
            Unknown
        }
    }
    impl<L> OutOther for OutProbe<'_, L> {}

    #[doc(hidden)]
    pub trait FeedFn {
        type Check;
        fn feed(&self) -> Self::Check;
    }
    impl<F: StepSig<K>, K, T> FeedFn for &FeedProbe<'_, FnStep<F, K>, Known<T>> {
        type Check = Checked<T, F::In>;
        fn feed(&self) -> Self::Check {
            Checked(PhantomData)
        }
    }
    #[doc(hidden)]
    pub trait FeedOther {
        fn feed(&self) -> Checked<(), ()> {
            Checked(PhantomData)
        }
    }
    impl<L, S> FeedOther for FeedProbe<'_, L, S> {}

    #[doc(hidden)]
    pub trait ItemKnown {
        type Item;
        fn item(&self) -> Self::Item;
    }
    impl<C: IntoIterator> ItemKnown for &ItemProbe<Known<C>> {
        type Item = Known<C::Item>;
        fn item(&self) -> Self::Item {
            known()
        }
    }
    #[doc(hidden)]
    pub trait ItemOther {
        fn item(&self) -> Unknown {
            Unknown
        }
    }
    impl<S> ItemOther for ItemProbe<S> {}

    #[doc(hidden)]
    pub trait LensKnown {
        type Target;
        fn target(&self) -> Self::Target;
    }
    impl<L: Lens<S>, S> LensKnown for &LensProbe<'_, L, Known<S>> {
        type Target = Known<L::Target>;
        fn target(&self) -> Self::Target {
            known()
        }
    }
    #[doc(hidden)]
    pub trait LensOther {
        fn target(&self) -> Unknown {
            Unknown
        }
    }
    impl<L, S> LensOther for LensProbe<'_, L, S> {}

    /// A lens and what flows into its `focus`, to check that the lens fits.
    pub struct FitProbe<'a, L, S>(pub &'a L, pub S);

    #[doc(hidden)]
    pub trait FitKnown {
        type Check;
        fn fit(&self) -> Self::Check;
    }
    impl<L, S> FitKnown for &FitProbe<'_, L, Known<S>> {
        type Check = LensOn<L, S>;
        fn fit(&self) -> Self::Check {
            LensOn(PhantomData)
        }
    }
    #[doc(hidden)]
    pub trait FitOther {
        fn fit(&self) -> LensOn<Unknown, Unknown> {
            LensOn(PhantomData)
        }
    }
    impl<L, S> FitOther for FitProbe<'_, L, S> {}

    #[doc(hidden)]
    pub trait TupleKnown {
        type All;
        type Settled;
        fn all(&self) -> Self::All;
        fn settled(&self) -> Self::Settled;
    }
    #[doc(hidden)]
    pub trait TupleOther {
        fn all(&self) -> Unknown {
            Unknown
        }
        fn settled(&self) -> Unknown {
            Unknown
        }
    }
    impl<T> TupleOther for TupleProbe<T> {}

    macro_rules! tuple_known {
        ($($T:ident),+) => {
            impl<$($T),+> TupleKnown for &TupleProbe<($(Known<$T>,)+)> {
                type All = Known<($($T,)+)>;
                type Settled = Known<($(Result<$T, PlanError>,)+)>;
                fn all(&self) -> Self::All {
                    known()
                }
                fn settled(&self) -> Self::Settled {
                    known()
                }
            }
        };
    }
    tuple_known!(A);
    tuple_known!(A, B);
    tuple_known!(A, B, C);
    tuple_known!(A, B, C, D);
    tuple_known!(A, B, C, D, E);
    tuple_known!(A, B, C, D, E, F);
    tuple_known!(A, B, C, D, E, F, G);
    tuple_known!(A, B, C, D, E, F, G, H);
    tuple_known!(A, B, C, D, E, F, G, H, I);
    tuple_known!(A, B, C, D, E, F, G, H, I, J);
    tuple_known!(A, B, C, D, E, F, G, H, I, J, K);
    tuple_known!(A, B, C, D, E, F, G, H, I, J, K, L);
}

/// Shadow values whose type can be transformed.
pub trait Shadow: Copy {
    /// `Vec` of the data (`each(all)`, `n_best`).
    type Vec: Shadow;
    /// `Vec` of outcomes (`each(settled)`).
    type Settled: Shadow;
    /// The (zero-sized) value.
    fn make() -> Self;
}

impl Shadow for Unknown {
    type Vec = Unknown;
    type Settled = Unknown;
    fn make() -> Self {
        Unknown
    }
}

/// Lets an unknown state pass the lens check.
impl Lens<Unknown> for Unknown {
    type Target = Unknown;
    fn get<'s>(&self, whole: &'s Unknown) -> &'s Unknown {
        whole
    }
    fn get_mut<'s>(&self, whole: &'s mut Unknown) -> &'s mut Unknown {
        whole
    }
}

impl<T> Shadow for Known<T> {
    type Vec = Known<Vec<T>>;
    type Settled = Known<Vec<Result<T, PlanError>>>;
    fn make() -> Self {
        known()
    }
}

/// The shadow of a `Vec` of `shadow`'s data.
pub fn vec_of<S: Shadow>(_shadow: S) -> S::Vec {
    S::Vec::make()
}

/// The shadow of a `Vec` of outcomes of `shadow`'s data.
pub fn settled_of<S: Shadow>(_shadow: S) -> S::Settled {
    S::Settled::make()
}

/// The shadow of a plan's input: not tracked.
pub fn input() -> Unknown {
    Unknown
}
