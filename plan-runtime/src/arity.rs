//! The largest tuple the runtime implements — steps of one `Seq`, branches of one `par`,
//! sources of one binding — and the one macro that writes every tuple impl up to it.

/// The most steps one `Seq` chains, branches one `par` runs and sources one binding reads.
///
/// `plan!` holds to the same number: it refuses a `par` with more branches or a binding with
/// more sources (pointing to `each` and to nesting), and splits a longer chain into a tree
/// of `Seq`s. Its own copy of the number is `plan-macros`' `MAX_ARITY`, which a test of
/// `plan-ui-tests` ties to this one (13 branches and 13 sources are refused, 12 compile).
pub(crate) const MAX_ARITY: usize = 12;

/// Calls `$impls!` once per tuple size from 1 to [`MAX_ARITY`], with the type parameters and
/// tuple indices of that size: `$impls!(T0 0)`, `$impls!(T0 0, T1 1)`, ….
macro_rules! for_each_arity {
    ($impls:ident) => {
        for_each_arity!(@ $impls [] [
            T0 0, T1 1, T2 2, T3 3, T4 4, T5 5, T6 6, T7 7, T8 8, T9 9, T10 10, T11 11
        ]);
    };
    (@ $impls:ident [$($T:ident $i:tt),*] [$next:ident $n:tt $(, $rest:ident $r:tt)*]) => {
        $impls!($($T $i,)* $next $n);
        for_each_arity!(@ $impls [$($T $i,)* $next $n] [$($rest $r),*]);
    };
    (@ $impls:ident [$($T:ident $i:tt),*] []) => {
        // The list above and the constant are one limit.
        const _: () = assert!(<[usize]>::len(&[$($i),*]) == $crate::arity::MAX_ARITY);
    };
}

pub(crate) use for_each_arity;
