//! The probes the shadow dispatches on — what flows into a step, a nested plan or a
//! construct — by autoref specialization; the macro brings them into scope with a glob import.

use super::*;
use crate::arity::for_each_arity;
use crate::blocking::Blocking;
use crate::step::classify::{NotAStep, Unusable};

/// What a step produces, given what flows into it and the plan's context.
pub struct OutProbe<L, S, X>(pub Ty<L>, pub S, pub X);

/// Two shadows whose types must be the same.
pub struct SameProbe<A, B>(pub A, pub B);

/// What a step takes.
pub struct InProbe<L>(pub Ty<L>);

/// A step's value, which must be a function or a plan (a function, in `blocking(..)`).
pub struct StepProbe<L>(pub Ty<L>);

/// The context a step takes.
pub struct CtxProbe<L>(pub Ty<L>);

/// The branch outputs of a `par`.
pub struct TupleProbe<T>(pub T);

/// What flows into an `each` body.
pub struct ItemProbe<S>(pub S);

/// A lens and the state of its `focus`.
pub struct LensProbe<L, S>(pub Ty<L>, pub S);

/// A predicate and the data it reads.
pub struct PredicateProbe<P, S>(pub Ty<P>, pub S);

/// A score and the output it ranks.
pub struct ScoreProbe<F, S>(pub Ty<F>, pub S);

/// A quorum's key and the output it reads.
pub struct QuorumKeyProbe<F, S>(pub Ty<F>, pub S);

/// Outputs a quorum compares as they are.
pub struct VoteProbe<S>(pub S);

/// A router and the input it reads.
pub struct RouterProbe<F, S>(pub Ty<F>, pub S);

/// Data that is cloned (per attempt, per branch).
pub struct CloneProbe<S>(pub S);

/// The output of a `#[durable]` node, which is journaled as JSON.
pub struct JournalProbe<S>(pub S);

/// Which of two shadows is known: the input of a construct, or what its body takes.
pub struct EitherProbe<A, B>(pub A, pub B);

// --- What a step produces. -----------------------------------------------------------

#[doc(hidden)]
pub trait OutFn {
    type Out;
    fn output(&self) -> Self::Out;
}
impl<F: StepSig<K>, K, S, X> OutFn for &&OutProbe<FnStep<F, K>, S, X> {
    type Out = Known<F::Out>;
    fn output(&self) -> Self::Out {
        known()
    }
}
#[doc(hidden)]
pub trait OutTyped {
    type Out;
    fn output(&self) -> Self::Out;
}
impl<P, I, O: Assume, M, S, X> OutTyped for &&OutProbe<Nested<Root<P, Sig<I, O, M>>>, S, X> {
    type Out = O;
    fn output(&self) -> Self::Out {
        O::assume()
    }
}
#[doc(hidden)]
pub trait OutPlan {
    type Out;
    fn output(&self) -> Self::Out;
}
impl<P, I, X: CtxShadow> OutPlan for &OutProbe<P, Known<I>, X>
where
    P: Plan<I, X::Ctx>,
{
    type Out = Known<P::Out>;
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
impl<L, S, X> OutOther for OutProbe<L, S, X> {}

// --- A step that is neither a function nor a plan. -----------------------------------

#[doc(hidden)]
pub trait NotAStepValue {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<F> NotAStepValue for &StepProbe<NotAStep<F>> {
    type Pair = Pair<F, ()>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
impl<F> NotAStepValue for &StepProbe<Blocking<F, Unusable>> {
    type Pair = Pair<F, ()>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait StepValue {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<L> StepValue for StepProbe<L> {}

// --- What a step takes. --------------------------------------------------------------

#[doc(hidden)]
pub trait InFn {
    type In;
    fn input(&self) -> Self::In;
}
impl<F: StepSig<K>, K> InFn for &InProbe<FnStep<F, K>> {
    type In = Known<F::In>;
    fn input(&self) -> Self::In {
        known()
    }
}
#[doc(hidden)]
pub trait InTyped {
    type In;
    fn input(&self) -> Self::In;
}
impl<P, I: Assume, O, M> InTyped for &InProbe<Nested<Root<P, Sig<I, O, M>>>> {
    type In = I;
    fn input(&self) -> Self::In {
        I::assume()
    }
}
#[doc(hidden)]
pub trait InOther {
    fn input(&self) -> Unknown {
        Unknown
    }
}
impl<L> InOther for InProbe<L> {}

// --- Two shadows that must have one type. ---------------------------------------------

// The same type, or one that inference can make the same (a generic step's output):
// nothing to report, and inference goes on through it. Otherwise the pair of types.
#[doc(hidden)]
pub trait SameKnown {
    fn pair(&self) -> Pair<(), ()>;
}
impl<T> SameKnown for &SameProbe<Known<T>, Known<T>> {
    fn pair(&self) -> Pair<(), ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait SameOther {
    type Pair;
    fn pair(&self) -> Self::Pair;
}
impl<A: Same<B>, B> SameOther for SameProbe<A, B> {
    type Pair = <A as Same<B>>::Pair;
    fn pair(&self) -> Self::Pair {
        Assume::assume()
    }
}

// --- The context a step takes. ---------------------------------------------------------

#[doc(hidden)]
pub trait CtxFn {
    type Ctx;
    fn ctx(&self) -> Self::Ctx;
}
impl<F, I, C, R> CtxFn for &CtxProbe<FnStep<F, Returns<I, WithCtx<C, R>>>> {
    type Ctx = Known<C>;
    fn ctx(&self) -> Self::Ctx {
        known()
    }
}
impl<F, I, C, R> CtxFn for &CtxProbe<FnStep<F, Awaits<I, WithCtx<C, R>>>> {
    type Ctx = Known<C>;
    fn ctx(&self) -> Self::Ctx {
        known()
    }
}
#[doc(hidden)]
pub trait CtxOther {
    fn ctx(&self) -> NoCtx {
        NoCtx
    }
}
impl<L> CtxOther for CtxProbe<L> {}

// --- `par`: the tuple of branch outputs. ---------------------------------------------

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
    ($($T:ident $i:tt),+) => {
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
for_each_arity!(tuple_known);

// --- `each`: the items of its input. -------------------------------------------------

#[doc(hidden)]
pub trait ItemIter {
    type Item;
    fn item(&self) -> (Self::Item, Pair<Fine, ()>);
}
impl<C: IntoIterator> ItemIter for &&ItemProbe<Known<C>> {
    type Item = Known<C::Item>;
    fn item(&self) -> (Self::Item, Pair<Fine, ()>) {
        (known(), pair())
    }
}
#[doc(hidden)]
pub trait ItemNotIter {
    type Pair;
    fn item(&self) -> (Unknown, Self::Pair);
}
impl<C> ItemNotIter for &ItemProbe<Known<C>> {
    type Pair = Pair<C, ()>;
    fn item(&self) -> (Unknown, Self::Pair) {
        (Unknown, pair())
    }
}
#[doc(hidden)]
pub trait ItemOther {
    fn item(&self) -> (Unknown, Pair<Fine, ()>) {
        (Unknown, pair())
    }
}
impl<S> ItemOther for ItemProbe<S> {}

// --- `focus`: the lens's target, and the state it needs. -----------------------------

#[doc(hidden)]
pub trait LensKnown {
    type Target;
    fn target(&self) -> Self::Target;
}
impl<L: Lens<S>, S> LensKnown for &&LensProbe<L, Known<S>> {
    type Target = Known<L::Target>;
    fn target(&self) -> Self::Target {
        known()
    }
}
#[doc(hidden)]
pub trait LensAlone {
    type Target;
    fn target(&self) -> Self::Target;
}
impl<L: LensOf> LensAlone for &LensProbe<L, Unknown> {
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
impl<L, S> LensOther for LensProbe<L, S> {}

/// The state a lens needs, when the state flowing in is not tracked.
#[doc(hidden)]
pub trait LensSource {
    type Source;
    fn source(&self) -> Self::Source;
}
impl<L: LensOf> LensSource for &LensProbe<L, Unknown> {
    type Source = Known<L::Source>;
    fn source(&self) -> Self::Source {
        known()
    }
}
#[doc(hidden)]
pub trait LensSourceOther {
    fn source(&self) -> Unknown {
        Unknown
    }
}
impl<L, S> LensSourceOther for LensProbe<L, S> {}

#[doc(hidden)]
pub trait LensFits {
    fn fit(&self) -> Pair<Fine, ()>;
}
impl<L: Lens<S>, S> LensFits for &&LensProbe<L, Known<S>> {
    fn fit(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait LensMisfits {
    type Pair;
    fn fit(&self) -> Self::Pair;
}
impl<L, S> LensMisfits for &LensProbe<L, Known<S>> {
    type Pair = Pair<L, S>;
    fn fit(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait LensFitOther {
    fn fit(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<L, S> LensFitOther for LensProbe<L, S> {}

// --- Predicates, scores and routers. ---------------------------------------------------

#[doc(hidden)]
pub trait PredicateFits {
    fn check(&self) -> Pair<Fine, ()>;
}
impl<P: Fn(&S) -> bool, S> PredicateFits for &&PredicateProbe<P, Known<S>> {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait PredicateMisfits {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<P, S> PredicateMisfits for &PredicateProbe<P, Known<S>> {
    type Pair = Pair<P, S>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait PredicateOther {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<P, S> PredicateOther for PredicateProbe<P, S> {}

#[doc(hidden)]
pub trait ScoreFits {
    fn check(&self) -> Pair<Fine, ()>;
}
impl<F: Fn(&O) -> K, O, K: PartialOrd + std::fmt::Debug> ScoreFits for &&ScoreProbe<F, Known<O>> {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait ScoreMisfits {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<F, O> ScoreMisfits for &ScoreProbe<F, Known<O>> {
    type Pair = Pair<F, O>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait ScoreOther {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<F, S> ScoreOther for ScoreProbe<F, S> {}

#[doc(hidden)]
pub trait QuorumKeyFits {
    fn check(&self) -> Pair<Fine, ()>;
}
impl<F, O, K> QuorumKeyFits for &&QuorumKeyProbe<F, Known<O>>
where
    F: Fn(&O) -> K,
    K: Eq + std::hash::Hash + std::fmt::Debug,
{
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait QuorumKeyMisfits {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<F, O> QuorumKeyMisfits for &QuorumKeyProbe<F, Known<O>> {
    type Pair = Pair<F, O>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait QuorumKeyOther {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<F, S> QuorumKeyOther for QuorumKeyProbe<F, S> {}

#[doc(hidden)]
pub trait Votes {
    fn check(&self) -> Pair<Fine, ()>;
}
impl<T: Eq + std::hash::Hash + std::fmt::Debug> Votes for &&VoteProbe<Known<T>> {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait DoesNotVote {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<T> DoesNotVote for &VoteProbe<Known<T>> {
    type Pair = Pair<T, ()>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait VoteOther {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<S> VoteOther for VoteProbe<S> {}

#[doc(hidden)]
pub trait RouterFits {
    fn check(&self) -> Pair<Fine, ()>;
}
impl<F: Fn(&I) -> R, I, R> RouterFits for &&RouterProbe<F, Known<I>> {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait RouterMisfits {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<F, I> RouterMisfits for &RouterProbe<F, Known<I>> {
    type Pair = Pair<F, I>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait RouterOther {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<F, S> RouterOther for RouterProbe<F, S> {}

// --- Data that is cloned. --------------------------------------------------------------

#[doc(hidden)]
pub trait Clones {
    fn check(&self) -> Pair<Fine, ()>;
}
impl<T: Clone> Clones for &&CloneProbe<Known<T>> {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait DoesNotClone {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<T> DoesNotClone for &CloneProbe<Known<T>> {
    type Pair = Pair<T, ()>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait CloneOther {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<S> CloneOther for CloneProbe<S> {}

// --- A durable node's output: serde, or the check fails on it. --------------------------

#[doc(hidden)]
pub trait Journals {
    fn check(&self) -> Pair<Fine, ()>;
}
impl<T: serde::Serialize + serde::de::DeserializeOwned> Journals for &&JournalProbe<Known<T>> {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
#[doc(hidden)]
pub trait DoesNotJournal {
    type Pair;
    fn check(&self) -> Self::Pair;
}
impl<T> DoesNotJournal for &JournalProbe<Known<T>> {
    type Pair = Pair<T, ()>;
    fn check(&self) -> Self::Pair {
        pair()
    }
}
#[doc(hidden)]
pub trait JournalOther {
    fn check(&self) -> Pair<Fine, ()> {
        pair()
    }
}
impl<S> JournalOther for JournalProbe<S> {}

// --- A construct's input: what flows in, else what its body takes. ----------------------

#[doc(hidden)]
pub trait EitherKnown {
    type Known;
    fn either(&self) -> Self::Known;
}
impl<A, B> EitherKnown for &EitherProbe<Known<A>, B> {
    type Known = Known<A>;
    fn either(&self) -> Self::Known {
        known()
    }
}
#[doc(hidden)]
pub trait EitherOther {
    type Known;
    fn either(&self) -> Self::Known;
}
impl<A, B: Assume> EitherOther for EitherProbe<A, B> {
    type Known = B;
    fn either(&self) -> B {
        B::assume()
    }
}
