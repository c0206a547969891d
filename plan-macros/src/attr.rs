//! Attributes on an item: `#[timeout(..)]`, `#[retry(..)]`, `#[hedge(..)]`, `#[layer(..)]`,
//! `#[durable]`, `#[name = ".."]`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitFloat, LitStr, Token, parenthesized, token};

use crate::duration::DurationArg;
use crate::keyword as kw;
use crate::parse::{expect_end, expr, positive, trailing_comma};
use crate::source::source_text;
use crate::suggest::{did_you_mean, unknown};
use crate::typed::{count, typed};

/// An attribute that wraps its item in a combinator.
pub enum Wrapper {
    Timeout(DurationArg),
    Retry {
        attempts: Box<Expr>,
        backoff: Option<DurationArg>,
        /// The `retry` keyword, where a non-`Clone` input is reported.
        span: Span,
    },
    /// `#[hedge(after = DELAY, ..)]`: the `plan_runtime::layer::Hedge` it builds, and the
    /// `hedge` keyword, where a non-`Clone` input is reported.
    Hedge {
        hedge: TokenStream,
        span: Span,
    },
    /// `#[layer(EXPR)]`: any `plan_runtime::layer::Layer` (a user's middleware), and `EXPR`
    /// as written.
    Layer {
        layer: Box<Expr>,
        source: String,
    },
    /// `#[durable]`, at the keyword (where an output that cannot be journaled is reported).
    /// Outermost whatever the order it is written in: a replayed node runs no retry or timer.
    Durable(Span),
}

const ATTRIBUTES: &[&str] = &["timeout", "retry", "hedge", "layer", "durable", "name"];
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
    } else if content.peek(kw::hedge) {
        let key: kw::hedge = content.parse()?;
        if !content.peek(token::Paren) {
            return Err(syn::Error::new(key.span, HEDGE_HINT));
        }
        let args;
        parenthesized!(args in content);
        wrappers.push(Wrapper::Hedge {
            hedge: parse_hedge(&args, key.span)?,
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
        let (start, span) = (args.cursor(), args.span());
        let layer = expr(&args)?;
        wrappers.push(Wrapper::Layer {
            layer: Box::new(layer),
            source: source_text(start, args.cursor(), span),
        });
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
            "plan attributes are `#[timeout(DURATION)]`, `#[retry(N)]` / `#[retry(N, backoff = DURATION)]`, `#[hedge(after = DURATION)]`, `#[layer(LAYER)]`, `#[durable]` and `#[name = \"..\"]`",
        ));
    }
    expect_end(&content, "in this attribute")
}

const HEDGE_HINT: &str = "`#[hedge]` needs a delay: `#[hedge(after = 50ms)]`, or `#[hedge(after = p95)]` for a percentile of the node's recent latencies";
const HEDGE_OPTIONS: &[&str] = &["after", "max", "share", "min_delay", "max_delay"];
const PERCENTILES: &str =
    "a percentile is `p50`, `p90`, `p95`, `p99`, `p999` (99.9 %) or any `pNN`";

/// The options of `#[hedge(..)]`, as the `Hedge` they build: `after` (required), then `max`,
/// `share`, `min_delay`, `max_delay` in any order, each at most once.
fn parse_hedge(args: ParseStream, keyword: Span) -> syn::Result<TokenStream> {
    let mut after = None;
    let mut options = TokenStream::new();
    let mut seen: Vec<String> = Vec::new();
    // Where `min_delay`/`max_delay` are given: they only clamp a percentile.
    let mut clamps = None;
    while !args.is_empty() {
        let key = args.fork().parse::<Ident>().ok();
        let Some(key) = key.filter(|key| HEDGE_OPTIONS.contains(&key.to_string().as_str())) else {
            return Err(unknown(
                args,
                "`#[hedge]` option",
                HEDGE_OPTIONS,
                "options are `after = DURATION` or `after = p95`, `max = N`, `share = 5%`, `min_delay = DURATION` and `max_delay = DURATION`",
            ));
        };
        let name = key.to_string();
        if seen.contains(&name) {
            return Err(syn::Error::new(
                key.span(),
                format!("`{name}` is given twice"),
            ));
        }
        args.parse::<Ident>()?;
        args.parse::<Token![=]>()?;
        match name.as_str() {
            "after" => after = Some(parse_delay(args)?),
            "max" => {
                let hedges = expr(args)?;
                if let Expr::Lit(lit) = &hedges
                    && let Lit::Int(int) = &lit.lit
                    && ["ns", "us", "ms", "s", "m", "h"].contains(&int.suffix())
                {
                    return Err(syn::Error::new(
                        hedges.span(),
                        format!(
                            "`max = N` is how many hedges a call may get; the longest delay is `max_delay = {}`",
                            int
                        ),
                    ));
                }
                positive(&hedges, "`max = N` starts at most N hedges per call, so N")?;
                let max = count(&hedges, (quote!(u32), "u32"));
                options.extend(quote_spanned!(hedges.span()=> .max(#max)));
            }
            "share" => {
                let share = parse_share(args)?;
                options.extend(quote!(.share(#share)));
            }
            _ => {
                let delay: DurationArg = args.parse()?;
                let delay = delay.to_tokens();
                let method = Ident::new(&name, key.span());
                options.extend(quote!(.#method(#delay)));
                clamps.get_or_insert(key.span());
            }
        }
        seen.push(name);
        if !args.is_empty() {
            args.parse::<Token![,]>()?;
        }
    }
    let Some(after) = after else {
        return Err(syn::Error::new(keyword, HEDGE_HINT));
    };
    let hedge = match after {
        Delay::Percentile(q) => quote!(::plan_runtime::layer::Hedge::percentile(#q)),
        Delay::Fixed(delay) => {
            if let Some(span) = clamps {
                return Err(syn::Error::new(
                    span,
                    "`min_delay` and `max_delay` bound a percentile delay (`after = p95`); this `after` is fixed",
                ));
            }
            let delay = delay.to_tokens();
            quote!(::plan_runtime::layer::Hedge::after(#delay))
        }
    };
    Ok(quote!(#hedge #options))
}

/// What `after = ..` of a `#[hedge]` says.
enum Delay {
    Fixed(DurationArg),
    /// `pNN`: the quantile, as a float literal.
    Percentile(LitFloat),
}

/// `50ms`, `cfg.delay`, or `p95`.
fn parse_delay(args: ParseStream) -> syn::Result<Delay> {
    if let Ok(word) = args.fork().parse::<Ident>()
        && let Some(digits) = word.to_string().strip_prefix('p')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (args.peek2(Token![,]) || is_last(args))
    {
        args.parse::<Ident>()?;
        let quantile = match digits.len() {
            // `p5` is the 5th percentile, `p95` the 95th.
            1 | 2 if digits != "0" && digits != "00" => format!("0.{digits:0>2}"),
            // `p999` is the 99.9th, `p9999` the 99.99th.
            _ if digits.len() > 2 && digits.bytes().all(|b| b == b'9') => format!("0.{digits}"),
            _ => {
                return Err(syn::Error::new(
                    word.span(),
                    format!("`{word}` is not a percentile: {PERCENTILES}"),
                ));
            }
        };
        return Ok(Delay::Percentile(LitFloat::new(&quantile, word.span())));
    }
    Ok(Delay::Fixed(args.parse()?))
}

/// Whether the next token is the last one.
fn is_last(args: ParseStream) -> bool {
    let fork = args.fork();
    fork.parse::<proc_macro2::TokenTree>().is_ok() && fork.is_empty()
}

/// `5%`, `0.05`, or an `f64` expression (a fraction).
fn parse_share(args: ParseStream) -> syn::Result<TokenStream> {
    if !args.peek(Lit) {
        let (start, span) = (args.cursor(), args.span());
        let share = expr(args)?;
        let source = source_text(start, args.cursor(), span);
        return Ok(typed(
            &share,
            &source,
            (quote!(f64), "f64"),
            "a share of calls",
            "a share is a fraction of calls, `0.05`, or a percentage, `share = 5%`",
        ));
    }
    let lit: Lit = args.parse()?;
    let (digits, suffix) = match &lit {
        Lit::Int(int) => (int.base10_digits().to_owned(), int.suffix().to_owned()),
        Lit::Float(float) => (float.base10_digits().to_owned(), float.suffix().to_owned()),
        _ => return Err(syn::Error::new(lit.span(), SHARE_HINT)),
    };
    let percent = args.parse::<Option<Token![%]>>()?.is_some();
    let value: f64 = match digits.parse() {
        Ok(value) if suffix.is_empty() || suffix == "f64" => value,
        _ => return Err(syn::Error::new(lit.span(), SHARE_HINT)),
    };
    let share = if percent { value / 100.0 } else { value };
    if !percent && lit_is_int(&lit) {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "write a share as a percentage or a fraction: `share = {digits}%` or `share = 0.05`"
            ),
        ));
    }
    if share <= 0.0 {
        return Err(syn::Error::new(
            lit.span(),
            "`share = 0%` would never hedge: give a share above 0 (5% is usual), or remove `#[hedge]`",
        ));
    }
    if share > 1.0 {
        return Err(syn::Error::new(
            lit.span(),
            "a share of calls is at most 100%",
        ));
    }
    let share = LitFloat::new(&format!("{share:?}f64"), lit.span());
    Ok(quote!(#share))
}

const SHARE_HINT: &str =
    "`share` is the share of calls that may be hedged: `share = 5%` or `share = 0.05`";

fn lit_is_int(lit: &Lit) -> bool {
    matches!(lit, Lit::Int(_))
}
