//! Expressions in a plan's options that must have one type: a duration given as an expression
//! (`#[timeout(cfg.deadline)]`), a hedge's `share`.

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, Ident};

use crate::expander::{check_name, code};
use crate::source::{escape, written};

/// `expr`, written `source`, as a value of type `ty` (`(path, name)`: the path the expansion
/// names it by, and how messages do); `what` says what it is ("a duration"), `note` how to
/// make one.
///
/// Through a trait of its own, named for the expression, rather than a typed `let`: a wrong
/// type is then one error on the expression whose first line names it ("`millis` is a
/// duration in this plan, so it must be a `Duration`, not `u64`"), where a `let` says only
/// "mismatched types".
pub fn typed(
    expr: &Expr,
    source: &str,
    (ty, ty_name): (TokenStream, &str),
    what: &str,
    note: &str,
) -> TokenStream {
    // Spanned on the expression, not mixed-site: the call's own bound is then reported on the
    // expression too, as one error, not a second label "required by a bound" around the plan.
    let name = Ident::new(
        &check_name(source, &format!("is_{}", what.replace(' ', "_"))),
        expr.span(),
    );
    let message = format!(
        "{} is {what} in this plan, so it must be `{ty_name}`, not `{{Self}}`",
        code(source)
    );
    let label = format!("expected `{ty_name}`, found `{{Self}}`");
    quote_spanned! {expr.span()=>
        {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            #[allow(non_camel_case_types)]
            trait #name { fn value(self) -> #ty; }
            #[diagnostic::do_not_recommend]
            impl #name for #ty {
                fn value(self) -> #ty { self }
            }
            #name::value(#expr)
        }
    }
}

/// A count (`#[retry(N)]`, `limit = N`, `max = N`, `n_best(N, ..)`, `quorum(K)`) of type `ty`:
/// a literal as it is, any other expression through [`typed`], so that a count of another
/// integer type is an error that names it rather than a note about our function.
pub fn count(expr: &Expr, (ty, ty_name): (TokenStream, &str)) -> TokenStream {
    if let Expr::Lit(_) = expr {
        return quote::quote!(#expr);
    }
    let source = written(expr);
    let shown = escape(&source);
    typed(
        expr,
        &source,
        (ty, ty_name),
        "a count",
        &format!(
            "convert it: `{ty_name}::try_from({shown})?`, or `{shown} as {ty_name}` if it always fits"
        ),
    )
}
