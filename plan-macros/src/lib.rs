//! The `plan!` macro and `#[derive(Lens)]` of the plan DSL. Use them through `plan-runtime`,
//! which re-exports both and holds the combinators they expand to.
//!
//! One module per construct, named as its runtime module is, holds its syntax tree, its
//! parsing (every malformed input a spanned `syn::Error` with a hint), its wiring checks and
//! its expansion: `step` (steps and `blocking`), `seq`, `par`, `each` (with `group`, their
//! policy and options), `choose`, `focus`, `loops` (`loop`). `item` holds chains and items,
//! `attr` their attributes (`duration` and `typed` the values they take), `plan` the whole
//! body, and `expander` what one expansion accumulates: node identities, step bindings and
//! the wiring shadow.
#![forbid(unsafe_code)]

/// The most branches one `par` takes, sources one binding reads and steps one `seq` node
/// chains: the largest tuple the runtime implements (its `arity::MAX_ARITY`, which
/// `plan-runtime/tests/arity.rs` holds to this number).
const MAX_ARITY: usize = 12;

mod attr;
mod bindings;
mod choose;
mod duration;
mod each;
mod expander;
mod focus;
mod group;
mod item;
mod keyword;
mod lens;
mod loops;
mod par;
mod parse;
mod plan;
mod seq;
mod source;
mod step;
mod suggest;
#[cfg(test)]
mod tests;
mod typed;

use proc_macro::TokenStream;

/// Builds a plan from the plan language; see the `plan-runtime` crate documentation.
#[proc_macro]
pub fn plan(input: TokenStream) -> TokenStream {
    expand_plan(input.into()).into()
}

/// Derives a lens per named field: `Type::field` focuses on that field.
#[proc_macro_derive(Lens)]
pub fn derive_lens(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => lens::derive(&input).unwrap_or_else(syn::Error::into_compile_error),
        Err(err) => err.into_compile_error(),
    }
    .into()
}

/// The whole macro on `proc_macro2` tokens, so that tests can run it.
fn expand_plan(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    match syn::parse2::<plan::PlanBody>(input) {
        Ok(body) => body.expand(),
        // Several `compile_error!`s in a row are not one expression: brace them, or rustc
        // reports parse errors of its own instead of ours.
        Err(err) => {
            let errors = err.into_compile_error();
            quote::quote!({ #errors })
        }
    }
}
