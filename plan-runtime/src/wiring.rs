//! Compile-time wiring checks for `plan!`: how a plan that does not fit together is reported.
//!
//! After the plan it builds, the macro writes a *shadow* of the plan: a block under
//! `if false`, type-checked but never run. Each value in it is [`Known<T>`] where the type of
//! the data at that point is fixed (by a function step's signature, a nested plan's output, a
//! lens's target …), or [`Unknown`]. Every place where two types must agree — a step and the
//! data fed into it (a binding's sources included), the arms of a `choose`, a `loop` body and
//! its state — is one *check*: a
//! `let` whose type is well-formed only if the check holds, spanned on the user's token, with
//! a message that names the steps involved and the fix. Predicates, scores, routers, `each`
//! inputs and inputs that are cloned (per branch, per attempt, per read of a binding) are
//! checked the same way.
//!
//! A check that fails leaves its proof without a type, and the plan's value is built from the
//! proofs ([`finish`]); so a broken plan is one error, on the step, and no follow-on error at
//! `plan.run(..)`.
//!
//! Dispatch between "function step", "plan" and "anything else" is autoref specialization, as
//! in [`step`](mod@crate::step).
//!
//! ```compile_fail,E0277
//! use plan_runtime::prelude::*;
//!
//! struct Query;
//! struct Hits;
//! fn parse(_: String) -> Query { Query }
//! fn merge(_: Hits) -> u32 { 0 }
//!
//! // error: mismatched types in plan: `merge` takes `Hits`, but `parse` gives `Query`
//! let p = plan! { parse >> merge };
//! ```

use std::future::Future;
use std::marker::PhantomData;

use plan_core::{Lens, Plan, PlanError};

use crate::node::{Nested, Root};
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

/// An uninhabited type, in a second impl of every check trait: with a single impl, rustc
/// would unify the two types through it and report a bare "mismatched types" instead.
pub enum Never {}

/// The proof that a check held.
#[derive(Clone, Copy)]
pub struct Wired;

/// What a check that always holds compares (a value's type that is not tracked, a predicate
/// that has the right shape).
#[derive(Clone, Copy)]
pub struct Fine;

/// The two types a check compares: the check holds when `A: Check<B>`.
pub struct Pair<A, B>(PhantomData<fn(A) -> B>);

impl<A, B> Clone for Pair<A, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, B> Copy for Pair<A, B> {}

fn pair<A, B>() -> Pair<A, B> {
    Pair(PhantomData)
}

/// Pairs two shadows: their types if both are known.
pub trait Same<B> {
    /// The pair to check.
    type Pair: Assume;
}

impl<A, B> Same<Known<B>> for Known<A> {
    type Pair = Pair<A, B>;
}
impl<B> Same<B> for Unknown {
    type Pair = Pair<(), ()>;
}
impl<A> Same<Unknown> for Known<A> {
    type Pair = Pair<(), ()>;
}

/// Zero-sized shadow values that dead code can conjure.
pub trait Assume: Sized {
    /// The value.
    fn assume() -> Self;
}

impl Assume for Wired {
    fn assume() -> Self {
        Wired
    }
}
impl Assume for Unknown {
    fn assume() -> Self {
        Unknown
    }
}
impl<T> Assume for Known<T> {
    fn assume() -> Self {
        known()
    }
}
impl<A, B> Assume for Pair<A, B> {
    fn assume() -> Self {
        pair()
    }
}
impl Assume for NoCtx {
    fn assume() -> Self {
        NoCtx
    }
}
impl<A: Assume, B: Assume> Assume for (A, B) {
    fn assume() -> Self {
        (A::assume(), B::assume())
    }
}

/// A value of any shadow type, for the right-hand side of a check's `let`.
pub fn assume<T: Assume>() -> T {
    T::assume()
}

/// A chain of proofs: every check of a plan, joined with [`and`].
pub trait Proof: Assume {
    /// Both proofs.
    type And<B: Proof>: Proof;
    /// `T`, once every check held.
    type Then<T>;
    /// `value`, once every check held.
    fn then<T>(value: T) -> Self::Then<T>;
}

impl Proof for Wired {
    type And<B: Proof> = B;
    type Then<T> = T;
    fn then<T>(value: T) -> T {
        value
    }
}

/// Joins two proofs: the result has no type if either failed.
pub fn and<A: Proof, B: Proof>(_: A, _: B) -> A::And<B> {
    Assume::assume()
}

/// The context a plan's steps take, as far as the shadow knows: [`NoCtx`] or `Known<C>`.
pub trait CtxShadow: Assume {
    /// The context marker of the plan's [`Root`].
    type Marker;
    /// The context nested plans are checked with.
    type Ctx;
}

/// No step of the plan takes a context (so far).
#[derive(Clone, Copy)]
pub struct NoCtx;

impl CtxShadow for NoCtx {
    type Marker = Free;
    type Ctx = ();
}

impl<C> CtxShadow for Known<C> {
    type Marker = Needs<C>;
    type Ctx = C;
}

/// The context marker of a plan none of whose steps take a context: it runs with
/// [`PlanExt::run`](crate::PlanExt::run), with or without a context.
#[derive(Clone, Copy, Debug)]
pub struct Free;

/// The context marker of a plan whose steps take `&C`: it runs with
/// `plan.run(input).ctx(&ctx)`, and only with a `&C`.
pub struct Needs<C>(PhantomData<fn(&C)>);

/// The context of a run of a plan whose steps take `&N` until [`.ctx(&ctx)`](crate::Run::ctx)
/// gives it one: no plan runs with it (see [`ContextGiven`]).
pub struct NoContext<N>(PhantomData<fn(&N)>);

impl<N> NoContext<N> {
    /// A reference to the (zero-sized) marker, for as long as `N` lives.
    pub(crate) fn new<'a>() -> &'a Self {
        // A zero-sized box allocates nothing, so leaking it leaks nothing.
        Box::leak(Box::new(NoContext(PhantomData)))
    }
}

/// Never holds: the bound whose error says that a run lacks its context.
#[diagnostic::on_unimplemented(
    message = "this plan's steps take a context `&{N}`, but its run is not given one",
    label = "awaited without a `&{N}`",
    note = "give the run its context before it is awaited: `plan.run(input).ctx(&ctx)`, where `ctx: {N}`"
)]
pub trait ContextGiven<N>: sealed::Never<N> {
    /// What it would give, if it held.
    fn given() -> std::convert::Infallible;
}

mod sealed {
    /// Implemented by no type, so that nothing implements [`super::ContextGiven`].
    pub trait Never<N> {}
}

/// The plan a `plan!` built, once every check held: `plan`, marked with what the shadow
/// found (its input, output and context). If a check failed, the result has no type, and
/// nothing more is reported.
pub fn finish<W: Proof, X: CtxShadow, I, O, P>(
    _wiring: (W, (X, (I, O))),
    plan: Root<P>,
) -> W::Then<Checked<P, I, O, X>> {
    W::then(plan.marked())
}

/// A `plan!`'s root, marked with what its shadow found.
pub type Checked<P, I, O, X> = Root<P, Sig<I, O, <X as CtxShadow>::Marker>>;

/// What the shadow of a `plan!` found: the shadows of its input `I` and output `O`, and its
/// context marker `X` ([`Free`] or [`Needs`]). A plan nested in another is checked with it.
pub struct Sig<I, O, X>(PhantomData<fn(I) -> (O, X)>);

impl<I, O, X> Clone for Sig<I, O, X> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I, O, X> Copy for Sig<I, O, X> {}

impl<I, O, X> std::fmt::Debug for Sig<I, O, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sig")
    }
}

/// The context shadow after a step taking `&C2` joins one for `&C1`: both must be the same.
pub fn join_ctx<A, B>(_: A, _: B) -> (<A as JoinCtx<B>>::Pair, <A as JoinCtx<B>>::Ctx)
where
    A: JoinCtx<B>,
{
    Assume::assume()
}

/// Joins the context shadows of two steps.
pub trait JoinCtx<B> {
    /// The two contexts, to check.
    type Pair: Assume;
    /// The plan's context from here on.
    type Ctx: Assume;
}

impl<A, B> JoinCtx<Known<B>> for Known<A> {
    type Pair = Pair<B, A>;
    type Ctx = Known<A>;
}
impl<A> JoinCtx<NoCtx> for Known<A> {
    type Pair = Pair<(), ()>;
    type Ctx = Known<A>;
}
impl<B: CtxShadow> JoinCtx<B> for NoCtx {
    type Pair = Pair<(), ()>;
    type Ctx = B;
}

/// The type of a value that the plan holds (a step, a lens, a predicate …), for the shadow:
/// it is `Copy`, so the shadow can follow the plan, which owns the values.
pub struct Ty<T>(PhantomData<fn() -> T>);

impl<T> Clone for Ty<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Ty<T> {}

/// The type of `value`.
pub fn ty<T>(_value: &T) -> Ty<T> {
    Ty(PhantomData)
}

pub mod probes;

pub mod route;

/// A lens that focuses into exactly one type: `#[derive(Lens)]` lenses, [`lens`](crate::lens)
/// and their compositions. It lets `plan!` check a `focus` body before it knows the state.
pub trait LensOf {
    /// The whole the lens looks into.
    type Source;
    /// The part it focuses on.
    type Target;
}

impl<S, T, G, M> LensOf for plan_core::FnLens<S, T, G, M> {
    type Source = S;
    type Target = T;
}

impl<A: LensOf, B: LensOf<Source = A::Target>> LensOf for plan_core::Then<A, B> {
    type Source = A::Source;
    type Target = B::Target;
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

/// Shadow values whose type can be transformed.
pub trait Shadow: Copy + Assume {
    /// `Vec` of the data (`each(all)`, `n_best`).
    type Vec: Shadow;
    /// `Vec` of outcomes (`each(settled)`).
    type Settled: Shadow;
    /// What a `quorum` gives.
    type Quorum: Shadow;
}

impl Shadow for Unknown {
    type Vec = Unknown;
    type Settled = Unknown;
    type Quorum = Unknown;
}

impl<T> Shadow for Known<T> {
    type Vec = Known<Vec<T>>;
    type Settled = Known<Vec<Result<T, PlanError>>>;
    type Quorum = Known<crate::policy::Quorum<T>>;
}

/// The shadow of a `Vec` of `shadow`'s data.
pub fn vec_of<S: Shadow>(_shadow: S) -> S::Vec {
    S::Vec::assume()
}

/// The shadow of a `Vec` of outcomes of `shadow`'s data.
pub fn settled_of<S: Shadow>(_shadow: S) -> S::Settled {
    S::Settled::assume()
}

/// The shadow of a `quorum`'s output over `shadow`'s data.
pub fn quorum_of<S: Shadow>(_shadow: S) -> S::Quorum {
    S::Quorum::assume()
}

/// The shadow of a plan's input: not tracked until a step takes it.
pub fn input() -> Unknown {
    Unknown
}

/// The shadow of the plan's context before any step.
pub fn no_ctx() -> NoCtx {
    NoCtx
}

/// The first proof of a plan.
pub fn wired() -> Wired {
    Wired
}
