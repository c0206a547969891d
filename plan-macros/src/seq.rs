//! `a >> b` and `seq { a >> b }`: a chain as a balanced tree of `nodes::seq`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::MAX_ARITY;

/// A chain as `seq((a, b, c))`; longer than [`MAX_ARITY`], a balanced tree of `seq`s, so a
/// chain of `n` steps nests only `log12(n)` deep.
pub fn balanced(items: &[TokenStream]) -> TokenStream {
    match items {
        [] => TokenStream::new(),
        [one] => one.clone(),
        _ if items.len() <= MAX_ARITY => quote!(::plan_runtime::nodes::seq((#(#items,)*))),
        _ => {
            let groups = items.len().div_ceil(MAX_ARITY).min(MAX_ARITY);
            let size = items.len().div_ceil(groups);
            let parts = items.chunks(size).map(balanced);
            quote!(::plan_runtime::nodes::seq((#(#parts,)*)))
        }
    }
}
