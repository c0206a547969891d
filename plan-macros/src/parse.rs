//! Parsing helpers shared by the constructs. Every malformed input is a `syn::Error` spanned
//! on the offending tokens, with a hint; nothing here panics.

use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Expr, Lit, Token};

/// An expression argument. Parentheses around it are plan syntax (closures are written in
/// them), not part of the expression: dropping them keeps `unused_parens` out of user code.
pub fn expr(input: ParseStream) -> syn::Result<Expr> {
    let mut parsed: Expr = input.parse()?;
    while let Expr::Paren(paren) = parsed {
        parsed = *paren.expr;
    }
    Ok(parsed)
}

/// Allows one trailing comma before the end of an argument list.
pub fn trailing_comma(input: ParseStream) -> syn::Result<()> {
    input.parse::<Option<Token![,]>>().map(drop)
}

pub fn expect_end(input: ParseStream, context: &str) -> syn::Result<()> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(input.error(format!("unexpected tokens {context}")))
    }
}

/// Rejects an integer literal `0` where at least one is needed (`what` says why: "`limit =
/// N` runs at most N branches at once, so N").
pub fn positive(value: &Expr, what: &str) -> syn::Result<()> {
    if let Expr::Lit(lit) = value
        && let Lit::Int(int) = &lit.lit
        && int.base10_digits().bytes().all(|b| b == b'0')
    {
        return Err(syn::Error::new(
            value.span(),
            format!("{what} must be at least 1"),
        ));
    }
    Ok(())
}
