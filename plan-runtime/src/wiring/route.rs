//! How the selector of `choose(router)` calls the router. A router that takes its input by
//! value is reported by the shadow (see [`RouterProbe`](super::probes::RouterProbe)); calling
//! it here as well would add a second, plain type error, so such a router is not called at all. The method is chosen by
//! autoref specialization: `Fn(&I)` can never match a function of a non-reference, whatever
//! `I` turns out to be.

/// A router, to be called on a reference to the input.
pub struct RouteCall<'a, F>(pub &'a F);

#[doc(hidden)]
pub trait ByRef<I, R> {
    fn call(&self, input: &I) -> R;
}
impl<F: Fn(&I) -> R, I, R> ByRef<I, R> for &RouteCall<'_, F> {
    fn call(&self, input: &I) -> R {
        (self.0)(input)
    }
}

#[doc(hidden)]
pub trait Misfit {
    fn call<I, R>(&self, _input: &I) -> R {
        // Only chosen for a router the shadow rejects, so a plan that has it never
        // compiles; this is never run.
        unreachable!("a router must take its input by reference")
    }
}
impl<F> Misfit for RouteCall<'_, F> {}
