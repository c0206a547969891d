//! Lenses: typed paths to a part of a value, for `focus(lens) { .. }`.

use std::fmt;
use std::marker::PhantomData;

/// A path from a whole `S` to one part of it, `Self::Target`.
///
/// `#[derive(Lens)]` gives a lens per named field (`Agent::memory`); [`Lens::then`] composes
/// them (`Agent::memory.then(Memory::notes)`); [`lens`] builds one from two functions.
/// A lens must obey the lens laws, which hold for every lens this crate builds:
/// *get-set* (setting what you got changes nothing), *set-get* (you get what you set) and
/// *set-set* (the second set wins).
///
/// ```
/// use plan_core::{lens, Lens};
///
/// struct Point { x: i32, y: i32 }
/// let x = lens(|p: &Point| &p.x, |p: &mut Point| &mut p.x);
/// let mut p = Point { x: 1, y: 2 };
/// x.set(&mut p, 10);
/// assert_eq!((*x.get(&p), p.y), (10, 2));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a lens into `{S}`",
    label = "this lens does not focus on a part of `{S}`",
    note = "`#[derive(Lens)]` on a struct gives `Type::field` lenses into that struct; compose them with `.then(..)`"
)]
pub trait Lens<S> {
    /// The part of `S` this lens focuses on.
    type Target;

    /// Borrows the focused part.
    fn get<'s>(&self, whole: &'s S) -> &'s Self::Target;

    /// Borrows the focused part mutably.
    fn get_mut<'s>(&self, whole: &'s mut S) -> &'s mut Self::Target;

    /// Replaces the focused part.
    fn set(&self, whole: &mut S, part: Self::Target) {
        *self.get_mut(whole) = part;
    }

    /// This lens followed by `next`, which looks inside the target.
    ///
    /// ```
    /// use plan_core::{lens, Lens};
    /// struct Outer { inner: Inner }
    /// struct Inner { n: u8 }
    /// let inner = lens(|o: &Outer| &o.inner, |o: &mut Outer| &mut o.inner);
    /// let n = lens(|i: &Inner| &i.n, |i: &mut Inner| &mut i.n);
    /// let both = inner.then(n);
    /// assert_eq!(*both.get(&Outer { inner: Inner { n: 7 } }), 7);
    /// ```
    fn then<L>(self, next: L) -> Then<Self, L>
    where
        Self: Sized,
        L: Lens<Self::Target>,
    {
        Then { first: self, next }
    }
}

/// Two lenses composed; see [`Lens::then`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Then<A, B> {
    first: A,
    next: B,
}

// The middle type must be `'static`: nothing else proves it outlives every borrow of `S`
// (plan state is owned data in practice).
impl<S, A, B> Lens<S> for Then<A, B>
where
    A: Lens<S>,
    A::Target: 'static,
    B: Lens<A::Target>,
{
    type Target = B::Target;

    fn get<'s>(&self, whole: &'s S) -> &'s Self::Target {
        self.next.get(self.first.get(whole))
    }

    fn get_mut<'s>(&self, whole: &'s mut S) -> &'s mut Self::Target {
        self.next.get_mut(self.first.get_mut(whole))
    }
}

/// Builds a lens from a getter and a mutable getter. Use it for anything `#[derive(Lens)]`
/// does not cover: tuple fields, enum payloads behind an invariant, map entries.
///
/// ```
/// use plan_core::{lens, Lens};
/// let second = lens(|t: &(u8, String)| &t.1, |t: &mut (u8, String)| &mut t.1);
/// assert_eq!(second.get(&(1, "b".into())), "b");
/// ```
pub fn lens<S, T, G, M>(get: G, get_mut: M) -> FnLens<S, T, G, M>
where
    G: Fn(&S) -> &T,
    M: Fn(&mut S) -> &mut T,
{
    FnLens {
        get,
        get_mut,
        _types: PhantomData,
    }
}

/// A lens made of two functions; see [`lens`].
pub struct FnLens<S, T, G, M> {
    get: G,
    get_mut: M,
    _types: PhantomData<fn(&S) -> &T>,
}

impl<S, T, G: Clone, M: Clone> Clone for FnLens<S, T, G, M> {
    fn clone(&self) -> Self {
        FnLens {
            get: self.get.clone(),
            get_mut: self.get_mut.clone(),
            _types: PhantomData,
        }
    }
}

impl<S, T, G, M> fmt::Debug for FnLens<S, T, G, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnLens")
    }
}

impl<S, T, G, M> Lens<S> for FnLens<S, T, G, M>
where
    G: Fn(&S) -> &T,
    M: Fn(&mut S) -> &mut T,
{
    type Target = T;

    fn get<'s>(&self, whole: &'s S) -> &'s T {
        (self.get)(whole)
    }

    fn get_mut<'s>(&self, whole: &'s mut S) -> &'s mut T {
        (self.get_mut)(whole)
    }
}
