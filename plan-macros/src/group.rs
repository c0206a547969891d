//! The policy and options of a parallel group: `par(POLICY, timeout = D, limit = N)`, and
//! the same in `each(..)`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Token, parenthesized, token};

use crate::duration::DurationArg;
use crate::expander::{Compare, Expander, check_name, code, ident_of};
use crate::keyword as kw;
use crate::parse::{expect_end, expr, positive, trailing_comma};
use crate::source::source_text;
use crate::suggest::{did_you_mean, unknown};
use crate::typed::count;

/// A parallel policy and its options.
pub struct Group {
    pub policy: Policy,
    /// The policy as written, for node info.
    pub written: String,
    pub timeout: Option<DurationArg>,
    pub limit: Option<Expr>,
}

pub enum Policy {
    All,
    Settled,
    First,
    FirstCompleted,
    /// `n_best(n, by = score)`, with the score's source text.
    NBest {
        n: Box<Expr>,
        by: Box<Expr>,
        source: String,
    },
    /// `best(by = score)`, with the score's source text.
    Best {
        by: Box<Expr>,
        source: String,
    },
    /// `quorum(k)`, `quorum(k, by = key)`, with the key's source text; `span` is the
    /// keyword's.
    Quorum {
        k: Box<Expr>,
        by: Option<(Box<Expr>, String)>,
        span: Span,
    },
}

const POLICIES: &[&str] = &[
    "all",
    "settled",
    "first",
    "first_completed",
    "n_best",
    "best",
    "quorum",
];
const POLICY_LIST: &str = "policies are `all`, `settled`, `first`, `first_completed`, `n_best(N, by = score)`, `best(by = score)` and `quorum(K)` / `quorum(K, by = key)`";
const QUORUM_HINT: &str = "`quorum` needs how many branches must agree: `quorum(2)`, or `quorum(2, by = key)` to compare a key of each output";
const OPTIONS: &[&str] = &["timeout", "limit"];

impl Group {
    /// `par { .. }` without a policy.
    pub fn all() -> Self {
        Group {
            policy: Policy::All,
            written: "all".to_owned(),
            timeout: None,
            limit: None,
        }
    }

    /// `POLICY[, timeout = DURATION][, limit = N]` inside `par(..)`/`each(..)`.
    pub fn parse(args: ParseStream, what: &str) -> syn::Result<Self> {
        if args.is_empty() {
            return Err(args.error(format!("`{what}(..)` needs a policy: {POLICY_LIST}")));
        }
        let start = args.cursor();
        let span = args.span();
        let policy = parse_policy(args)?;
        let written = source_text(start, args.cursor(), span);
        let mut group = Group {
            policy,
            written,
            timeout: None,
            limit: None,
        };
        while !args.is_empty() {
            args.parse::<Token![,]>()?;
            if args.is_empty() {
                break;
            }
            if args.peek(kw::timeout) {
                let key: kw::timeout = args.parse()?;
                args.parse::<Token![=]>()?;
                if group.timeout.replace(args.parse()?).is_some() {
                    return Err(syn::Error::new(key.span, "`timeout` is given twice"));
                }
            } else if args.peek(kw::limit) {
                let key: kw::limit = args.parse()?;
                args.parse::<Token![=]>()?;
                let limit = expr(args)?;
                positive(&limit, "`limit = N` runs at most N branches at once, so N")?;
                if group.limit.replace(limit).is_some() {
                    return Err(syn::Error::new(key.span, "`limit` is given twice"));
                }
            } else {
                return Err(unknown(
                    args,
                    &format!("`{what}` option"),
                    OPTIONS,
                    "options are `timeout = DURATION` and `limit = N`",
                ));
            }
        }
        Ok(group)
    }

    /// The policy value, with its score bound (and checked against `out`, the shadow of a
    /// branch's output).
    pub fn policy_tokens(&self, x: &mut Expander, out: &Ident) -> TokenStream {
        match &self.policy {
            Policy::All => quote!(::plan_runtime::policy::All),
            Policy::Settled => quote!(::plan_runtime::policy::Settled),
            Policy::First => quote!(::plan_runtime::policy::First),
            Policy::FirstCompleted => quote!(::plan_runtime::policy::FirstCompleted),
            Policy::NBest { n, by, source } => {
                let score = score(x, by, source, out);
                let n = count(n, (quote!(usize), "usize"));
                quote_spanned!(by.span()=> ::plan_runtime::policy::n_best(#n, #score))
            }
            Policy::Best { by, source } => {
                let score = score(x, by, source, out);
                quote_spanned!(by.span()=> ::plan_runtime::policy::best(#score))
            }
            Policy::Quorum { k, by, span } => match by {
                Some((by, source)) => {
                    let k = count(k, (quote!(usize), "usize"));
                    let key = key(x, by, source, out);
                    quote_spanned!(by.span()=> ::plan_runtime::policy::quorum(#k).by(#key))
                }
                None => {
                    let message = format!(
                        "{} counts the branches whose outputs are equal, but `{{Self}}` is not `Eq + Hash + Debug`",
                        code(&self.written)
                    );
                    x.check(
                        *span,
                        Compare::Holds("quorum_compares_outputs".to_owned()),
                        quote!((&&&VoteProbe(#out)).check()),
                        &message,
                        "`{Self}` is not `Eq + Hash + Debug`",
                        "derive `PartialEq, Eq, Hash, Debug` for `{Self}`, or count the outputs that agree on a key: `quorum(2, by = key)` with `fn key(output: &{Self}) -> String`",
                    );
                    let k = count(k, (quote!(usize), "usize"));
                    quote_spanned!(*span=> ::plan_runtime::policy::quorum(#k))
                }
            },
        }
    }

    /// `.timeout(..)` and `.limit(..)`.
    pub fn options(&self) -> TokenStream {
        let timeout = self.timeout.as_ref().map(|after| {
            let after = after.to_tokens();
            quote!(.timeout(#after))
        });
        let limit = self.limit.as_ref().map(|limit| {
            let limit = count(limit, (quote!(usize), "usize"));
            quote!(.limit(#limit))
        });
        quote!(#timeout #limit)
    }

    /// Whether every branch (item) must produce one type.
    pub fn is_uniform(&self) -> bool {
        !matches!(self.policy, Policy::All | Policy::Settled)
    }
}

/// Binds a score, written `source`, and checks that it ranks `out`.
fn score(x: &mut Expander, by: &Expr, source: &str, out: &Ident) -> Ident {
    let (score, ty) = x.bind("score", quote_spanned!(by.span()=> #by));
    let name = ident_of(source).unwrap_or("score");
    x.check(
        by.span(),
        Compare::Fits(check_name(source, "is_a_score_of")),
        quote!((&&&ScoreProbe(#ty, #out)).check()),
        &format!(
            "{} must take `&{{T}}` and return something ordered and printable (`K: PartialOrd + Debug`)",
            code(source)
        ),
        "expected `Fn(&{T}) -> K` with `K: PartialOrd + Debug`",
        &format!(
            "`n_best` and `best` rank each branch's output by reference: `fn {name}(output: &{{T}}) -> f64`"
        ),
    );
    score
}

/// Binds a quorum's key and checks that it reads `out` by reference and gives a key to count.
fn key(x: &mut Expander, by: &Expr, source: &str, out: &Ident) -> Ident {
    let (key, ty) = x.bind("key", quote_spanned!(by.span()=> #by));
    let name = ident_of(source).unwrap_or("key");
    let message = format!(
        "{} must take `&{{T}}` and return a key that is `Eq + Hash + Debug`",
        code(source)
    );
    x.check(
        by.span(),
        Compare::Fits(check_name(source, "is_a_key_of")),
        quote!((&&&QuorumKeyProbe(#ty, #out)).check()),
        &message,
        "expected `Fn(&{T}) -> K` with `K: Eq + Hash + Debug`",
        &format!(
            "`quorum` counts the branches whose outputs agree on `{name}(&output)`: `fn {name}(output: &{{T}}) -> String`"
        ),
    );
    key
}

fn parse_policy(args: ParseStream) -> syn::Result<Policy> {
    let span = args.span();
    let Ok(word) = args.call(Ident::parse_any) else {
        return Err(syn::Error::new(
            span,
            format!("expected a policy: {POLICY_LIST}"),
        ));
    };
    Ok(match word.to_string().as_str() {
        "all" => Policy::All,
        "settled" => Policy::Settled,
        "first" => Policy::First,
        "first_completed" => Policy::FirstCompleted,
        "n_best" => {
            let inner = ranked_args(args, word.span(), "n_best(2, by = score)")?;
            if inner.is_empty() {
                return Err(
                    inner.error("`n_best` needs a count and a score: `n_best(2, by = score)`")
                );
            }
            let n = expr(&inner)?;
            positive(&n, "`n_best(N, ..)` keeps the best N branches, so N")?;
            if inner.is_empty() {
                return Err(syn::Error::new(
                    n.span(),
                    "`n_best` needs a score to rank by: `n_best(2, by = score)`",
                ));
            }
            inner.parse::<Token![,]>()?;
            let (by, source) = parse_by(&inner, "n_best")?;
            Policy::NBest {
                n: Box::new(n),
                by: Box::new(by),
                source,
            }
        }
        "best" => {
            let inner = ranked_args(args, word.span(), "best(by = score)")?;
            let (by, source) = parse_by(&inner, "best")?;
            Policy::Best {
                by: Box::new(by),
                source,
            }
        }
        "quorum" => parse_quorum(args, word.span())?,
        other => {
            let hint = did_you_mean(other, POLICIES);
            return Err(syn::Error::new(
                word.span(),
                format!("unknown policy `{other}`{hint} ({POLICY_LIST})"),
            ));
        }
    })
}

/// `(K)` or `(K, by = key)` after `quorum`.
fn parse_quorum(args: ParseStream, span: Span) -> syn::Result<Policy> {
    if !args.peek(token::Paren) {
        return Err(syn::Error::new(span, QUORUM_HINT));
    }
    let inner;
    parenthesized!(inner in args);
    if inner.is_empty() {
        return Err(inner.error(QUORUM_HINT));
    }
    let k = expr(&inner)?;
    positive(&k, "`quorum(K)` needs K agreeing branches, so K")?;
    let mut by = None;
    if inner.parse::<Option<Token![,]>>()?.is_some() && !inner.is_empty() {
        if !inner.peek(kw::by) {
            let hint = inner
                .fork()
                .parse::<Ident>()
                .map(|word| did_you_mean(&word.to_string(), &["by"]))
                .unwrap_or_default();
            return Err(inner.error(format!(
                "unknown `quorum` option{hint} (the only option is `by = key`, where `key: Fn(&Output) -> K` and `K: Eq + Hash + Debug`)"
            )));
        }
        inner.parse::<kw::by>()?;
        inner.parse::<Token![=]>()?;
        let (start, span) = (inner.cursor(), inner.span());
        let key = expr(&inner)?;
        by = Some((Box::new(key), source_text(start, inner.cursor(), span)));
        trailing_comma(&inner)?;
    }
    expect_end(&inner, "in `quorum(..)`")?;
    Ok(Policy::Quorum {
        k: Box::new(k),
        by,
        span,
    })
}

/// The parenthesized arguments of `n_best(..)`/`best(..)`.
fn ranked_args<'a>(
    args: ParseStream<'a>,
    span: Span,
    example: &str,
) -> syn::Result<syn::parse::ParseBuffer<'a>> {
    if !args.peek(token::Paren) {
        return Err(syn::Error::new(
            span,
            format!("this policy needs a score to rank by: `{example}`"),
        ));
    }
    let inner;
    parenthesized!(inner in args);
    Ok(inner)
}

/// `by = score` inside `n_best(..)`/`best(..)`, and the score's source text.
fn parse_by(inner: ParseStream, policy: &str) -> syn::Result<(Expr, String)> {
    if !inner.peek(kw::by) {
        return Err(inner.error(format!(
            "`{policy}` needs a score to rank by: `by = score`, where `score: Fn(&Output) -> K` and `K: PartialOrd + Debug`"
        )));
    }
    inner.parse::<kw::by>()?;
    inner.parse::<Token![=]>()?;
    let (start, span) = (inner.cursor(), inner.span());
    let by = expr(inner)?;
    let source = source_text(start, inner.cursor(), span);
    inner.parse::<Option<Token![,]>>()?;
    expect_end(inner, &format!("in `{policy}(..)`"))?;
    Ok((by, source))
}
