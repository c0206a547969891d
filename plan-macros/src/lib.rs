//! The `plan!` macro and `#[derive(Lens)]` of the plan DSL. Use them through `plan-runtime`,
//! which re-exports both and holds the combinators they expand to.
//!
//! The macro is parse → expand: `parse` turns the body into the syntax tree of
//! `ast`, reporting every malformed input as a spanned `syn::Error` with a hint, and `expand`
//! writes calls of `plan_runtime::nodes`.
#![forbid(unsafe_code)]

mod ast;
mod duration;
mod expand;
mod lens;
mod parse;
#[cfg(test)]
mod tests;

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
    match syn::parse2::<ast::PlanBody>(input) {
        Ok(body) => expand::expand(&body),
        // Several `compile_error!`s in a row are not one expression: brace them, or rustc
        // reports parse errors of its own instead of ours.
        Err(err) => {
            let errors = err.into_compile_error();
            quote::quote!({ #errors })
        }
    }
}
