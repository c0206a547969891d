//! Attributes on an item: `#[timeout(..)]`, `#[retry(..)]`, `#[layer(..)]`, `#[durable]`,
//! `#[name = ".."]`.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::{Expr, LitStr, Token, parenthesized, token};

use crate::duration::DurationArg;
use crate::keyword as kw;
use crate::parse::{expect_end, expr, positive, trailing_comma};
use crate::suggest::{did_you_mean, unknown};

/// An attribute that wraps its item in a combinator.
pub enum Wrapper {
    Timeout(DurationArg),
    Retry {
        attempts: Box<Expr>,
        backoff: Option<DurationArg>,
        /// The `retry` keyword, where a non-`Clone` input is reported.
        span: Span,
    },
    /// `#[layer(EXPR)]`: any `plan_runtime::layer::Layer` (a user's middleware).
    Layer(Box<Expr>),
    /// `#[durable]`, at the keyword (where an output that cannot be journaled is reported).
    /// Outermost whatever the order it is written in: a replayed node runs no retry or timer.
    Durable(Span),
}

const ATTRIBUTES: &[&str] = &["timeout", "retry", "layer", "durable", "name"];
const RETRY_HINT: &str =
    "`#[retry]` needs the number of attempts: `#[retry(3)]` or `#[retry(3, backoff = 100ms)]`";

/// Parses one `#[..]` before an item.
pub fn parse(
    input: ParseStream,
    wrappers: &mut Vec<Wrapper>,
    name: &mut Option<LitStr>,
) -> syn::Result<()> {
    input.parse::<Token![#]>()?;
    if input.peek(Token![!]) {
        return Err(input.error("inner attributes (`#![..]`) go only at the start of the plan"));
    }
    let content;
    syn::bracketed!(content in input);
    if content.peek(kw::timeout) {
        let key: kw::timeout = content.parse()?;
        if !content.peek(token::Paren) {
            return Err(syn::Error::new(
                key.span,
                "`#[timeout]` needs a duration: `#[timeout(250ms)]`",
            ));
        }
        let args;
        parenthesized!(args in content);
        wrappers.push(Wrapper::Timeout(args.parse()?));
        trailing_comma(&args)?;
        expect_end(&args, "in `#[timeout(..)]`: it takes one duration")?;
    } else if content.peek(kw::retry) {
        let key: kw::retry = content.parse()?;
        if !content.peek(token::Paren) {
            return Err(syn::Error::new(key.span, RETRY_HINT));
        }
        let args;
        parenthesized!(args in content);
        if args.is_empty() {
            return Err(args.error(RETRY_HINT));
        }
        let attempts = expr(&args)?;
        positive(&attempts, "`#[retry(N)]` makes N attempts in all, so N")?;
        let mut backoff = None;
        if args.parse::<Option<Token![,]>>()?.is_some() && !args.is_empty() {
            if !args.peek(kw::backoff) {
                let hint = args
                    .fork()
                    .parse::<syn::Ident>()
                    .map(|word| did_you_mean(&word.to_string(), &["backoff"]))
                    .unwrap_or_default();
                return Err(args.error(format!(
                    "unknown `#[retry]` option{hint} (the only option is `backoff = DURATION`)"
                )));
            }
            args.parse::<kw::backoff>()?;
            args.parse::<Token![=]>()?;
            backoff = Some(args.parse()?);
            args.parse::<Option<Token![,]>>()?;
        }
        expect_end(&args, "in `#[retry(..)]`")?;
        wrappers.push(Wrapper::Retry {
            attempts: Box::new(attempts),
            backoff,
            span: key.span,
        });
    } else if content.peek(kw::layer) {
        let key: kw::layer = content.parse()?;
        let hint = "`#[layer]` needs a layer: `#[layer(cache)]` (see `plan_runtime::layer`)";
        if !content.peek(token::Paren) {
            return Err(syn::Error::new(key.span, hint));
        }
        let args;
        parenthesized!(args in content);
        if args.is_empty() {
            return Err(args.error(hint));
        }
        wrappers.push(Wrapper::Layer(Box::new(expr(&args)?)));
        trailing_comma(&args)?;
        expect_end(&args, "in `#[layer(..)]`: it takes one layer")?;
    } else if content.peek(kw::durable) {
        let key: kw::durable = content.parse()?;
        if content.peek(token::Paren) {
            return Err(content.error("`#[durable]` takes no arguments"));
        }
        if wrappers.iter().any(|w| matches!(w, Wrapper::Durable(_))) {
            return Err(syn::Error::new(
                key.span,
                "a node has one `#[durable]`: remove one of them",
            ));
        }
        wrappers.push(Wrapper::Durable(key.span));
    } else if content.peek(kw::name) {
        content.parse::<kw::name>()?;
        content.parse::<Token![=]>()?;
        let lit: LitStr = content.parse()?;
        let span = lit.span();
        if name.replace(lit).is_some() {
            return Err(syn::Error::new(
                span,
                "a node has one `#[name]`: remove one of them",
            ));
        }
    } else {
        return Err(unknown(
            &content,
            "plan attribute",
            ATTRIBUTES,
            "plan attributes are `#[timeout(DURATION)]`, `#[retry(N)]` / `#[retry(N, backoff = DURATION)]`, `#[layer(LAYER)]`, `#[durable]` and `#[name = \"..\"]`",
        ));
    }
    expect_end(&content, "in this attribute")
}
