//! `a >> b` and `seq { a >> b }`: a chain as a balanced tree of `nodes::seq`.

use proc_macro2::TokenStream;
use quote::quote;

/// The most steps one `Seq` takes (the runtime implements tuples up to this size).
const SEQ_WIDTH: usize = 12;

/// A chain as `seq((a, b, c))`; longer than [`SEQ_WIDTH`], a balanced tree of `seq`s, so a
/// chain of `n` steps nests only `log12(n)` deep.
pub fn balanced(items: &[TokenStream]) -> TokenStream {
    match items {
        [] => TokenStream::new(),
        [one] => one.clone(),
        _ if items.len() <= SEQ_WIDTH => quote!(::plan_runtime::nodes::seq((#(#items,)*))),
        _ => {
            let groups = items.len().div_ceil(SEQ_WIDTH).min(SEQ_WIDTH);
            let size = items.len().div_ceil(groups);
            let parts = items.chunks(size).map(balanced);
            quote!(::plan_runtime::nodes::seq((#(#parts,)*)))
        }
    }
}
