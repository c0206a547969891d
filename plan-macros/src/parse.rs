//! Parsing a `plan!` body. Every malformed input is a `syn::Error` spanned on the offending
//! tokens, with a hint; nothing here panics.

use proc_macro2::Span;
use syn::buffer::Cursor;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, ExprPath, LitStr, Pat, Token, braced, parenthesized, token};

use crate::ast::{Chain, Group, Item, PlanBody, Policy, RouteArm, Term, Wrapper};

mod kw {
    syn::custom_keyword!(seq);
    syn::custom_keyword!(par);
    syn::custom_keyword!(each);
    syn::custom_keyword!(choose);
    syn::custom_keyword!(focus);
    syn::custom_keyword!(blocking);
    syn::custom_keyword!(all);
    syn::custom_keyword!(settled);
    syn::custom_keyword!(first);
    syn::custom_keyword!(first_completed);
    syn::custom_keyword!(n_best);
    syn::custom_keyword!(best);
    syn::custom_keyword!(by);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(limit);
    syn::custom_keyword!(until);
    syn::custom_keyword!(max);
    syn::custom_keyword!(on_limit);
    syn::custom_keyword!(stop);
    syn::custom_keyword!(error);
    syn::custom_keyword!(retry);
    syn::custom_keyword!(backoff);
    syn::custom_keyword!(name);
}

/// The most branches a `par` takes (the runtime implements tuples up to this size).
const MAX_PAR_BRANCHES: usize = 12;

impl Parse for PlanBody {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut name = None;
        if input.peek(Token![#]) && input.peek2(Token![!]) {
            input.parse::<Token![#]>()?;
            input.parse::<Token![!]>()?;
            let content;
            syn::bracketed!(content in input);
            content.parse::<kw::name>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "the only inner attribute of a plan is `#![name = \"..\"]`",
                )
            })?;
            content.parse::<Token![=]>()?;
            name = Some(content.parse::<LitStr>()?);
            expect_end(&content, "after the plan's name")?;
        }
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "empty plan: write at least one step, e.g. `plan! { parse >> fetch }`",
            ));
        }
        let chain = parse_chain(input)?;
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens: join steps with `>>`, separate `par` branches with `,` inside `par { .. }`",
            ));
        }
        Ok(PlanBody { name, chain })
    }
}

/// An expression argument. Parentheses around it are plan syntax (closures are written in
/// them), not part of the expression: dropping them keeps `unused_parens` out of user code.
fn expr(input: ParseStream) -> syn::Result<Expr> {
    let mut parsed: Expr = input.parse()?;
    while let Expr::Paren(paren) = parsed {
        parsed = *paren.expr;
    }
    Ok(parsed)
}

/// Allows one trailing comma before the end of an argument list.
fn trailing_comma(input: ParseStream) -> syn::Result<()> {
    input.parse::<Option<Token![,]>>().map(drop)
}

fn expect_end(input: ParseStream, context: &str) -> syn::Result<()> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(input.error(format!("unexpected tokens {context}")))
    }
}

/// Items joined by `>>`, up to the end of `input` or a `,`.
fn parse_chain(input: ParseStream) -> syn::Result<Chain> {
    let mut items = vec![input.parse::<Item>()?];
    while input.peek(Token![>>]) {
        let arrow: Token![>>] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(syn::Error::new(
                arrow.span(),
                "`>>` must be followed by a step",
            ));
        }
        items.push(input.parse()?);
    }
    if !input.is_empty() && !input.peek(Token![,]) {
        return Err(input.error(
            "expected `>>` between steps (or `,` between branches); wrap a complex expression in parentheses: `(expr)`",
        ));
    }
    Ok(Chain { items })
}

/// The body of a construct: `{ chain }`.
fn parse_body(input: ParseStream, what: &str) -> syn::Result<Chain> {
    if !input.peek(token::Brace) {
        return Err(input.error(format!("expected `{{ .. }}` with the body of `{what}`")));
    }
    let content;
    let brace = braced!(content in input);
    if content.is_empty() {
        return Err(syn::Error::new(
            brace.span.join(),
            format!("empty `{what}` body: write the steps it runs"),
        ));
    }
    let chain = parse_chain(&content)?;
    if !content.is_empty() {
        return Err(content.error(format!(
            "`{what}` takes one chain of steps; `,` separates branches only in `par`"
        )));
    }
    Ok(chain)
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut wrappers = Vec::new();
        let mut name = None;
        while input.peek(Token![#]) {
            parse_attribute(input, &mut wrappers, &mut name)?;
        }
        let span = input.span();
        let start = input.cursor();
        let term = parse_term(input)?;
        let source = source_text(start, input.cursor(), span);
        Ok(Item {
            wrappers,
            name,
            term,
            span,
            source,
        })
    }
}

/// The source text of the tokens from `start` up to `end` (the parser's position after
/// them), as written (whitespace collapsed), shortened past 80 characters.
fn source_text(start: Cursor, end: Cursor, span: Span) -> String {
    // Walk only the consumed tokens: the rest of the plan may be thousands of tokens long.
    let mut consumed = Vec::new();
    let mut cursor = start;
    // `<`, not `!=`: a step from a `macro_rules!` fragment sits in an invisible group that
    // `token_tree` steps over whole, so the walk can pass `end` without landing on it.
    while cursor < end {
        let Some((token, next)) = cursor.token_tree() else {
            break;
        };
        consumed.push(token);
        cursor = next;
    }
    let mut text = String::new();
    let mut previous_end = None;
    for token in consumed {
        let token_span = token.span();
        // Span joining is unstable; rebuild the text token by token, keeping the gaps.
        if previous_end.is_some_and(|end| end != token_span.start()) {
            text.push(' ');
        }
        previous_end = Some(token_span.end());
        match token_span.source_text() {
            Some(source) => text.push_str(&source),
            None => text.push_str(&token.to_string()),
        }
    }
    if text.is_empty() {
        text = span.source_text().unwrap_or_default();
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 80 {
        let short: String = text.chars().take(77).collect();
        format!("{short}...")
    } else {
        text
    }
}

fn parse_attribute(
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
    let lookahead = content.lookahead1();
    if lookahead.peek(kw::timeout) {
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
    } else if lookahead.peek(kw::retry) {
        let key: kw::retry = content.parse()?;
        if !content.peek(token::Paren) {
            return Err(syn::Error::new(
                key.span,
                "`#[retry]` needs the number of attempts: `#[retry(3)]` or `#[retry(3, backoff = 100ms)]`",
            ));
        }
        let args;
        parenthesized!(args in content);
        if args.is_empty() {
            return Err(args.error("`#[retry]` needs the number of attempts: `#[retry(3)]` or `#[retry(3, backoff = 100ms)]`"));
        }
        let attempts = expr(&args)?;
        let mut backoff = None;
        if args.parse::<Option<Token![,]>>()?.is_some() && !args.is_empty() {
            args.parse::<kw::backoff>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "unknown `#[retry]` option: the only option is `backoff = DURATION`",
                )
            })?;
            args.parse::<Token![=]>()?;
            backoff = Some(args.parse()?);
            args.parse::<Option<Token![,]>>()?;
        }
        expect_end(&args, "in `#[retry(..)]`")?;
        wrappers.push(Wrapper::Retry {
            attempts: Box::new(attempts),
            backoff,
        });
    } else if lookahead.peek(kw::name) {
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
        let mut err = lookahead.error();
        err.combine(syn::Error::new(
            content.span(),
            "plan attributes are `#[timeout(DURATION)]`, `#[retry(N)]` / `#[retry(N, backoff = DURATION)]` and `#[name = \"..\"]`",
        ));
        return Err(err);
    }
    expect_end(&content, "in this attribute")
}

fn parse_term(input: ParseStream) -> syn::Result<Term> {
    // Keywords are recognised only where they open a construct, so a step may still be
    // called `first` or `best`.
    if input.peek(kw::seq) && input.peek2(token::Brace) {
        input.parse::<kw::seq>()?;
        return Ok(Term::Seq(parse_body(input, "seq")?));
    }
    if input.peek(kw::par) && (input.peek2(token::Brace) || input.peek2(token::Paren)) {
        return parse_par(input);
    }
    if input.peek(kw::each) && input.peek2(token::Brace) {
        return Err(
            input.error("`each` needs a policy: `each(all) { step }` (or `each(all, limit = 8)`)")
        );
    }
    if input.peek(kw::focus) && input.peek2(token::Brace) {
        return Err(input.error("`focus` needs a lens: `focus(Type::field) { .. }`"));
    }
    if input.peek(kw::each) && input.peek2(token::Paren) {
        input.parse::<kw::each>()?;
        let args;
        parenthesized!(args in input);
        let group = parse_group(&args, "each")?;
        let body = parse_body(input, "each")?;
        return Ok(Term::Each { group, body });
    }
    if input.peek(kw::choose) && (input.peek2(token::Brace) || input.peek2(token::Paren)) {
        return parse_choose(input);
    }
    if input.peek(kw::focus) && input.peek2(token::Paren) {
        input.parse::<kw::focus>()?;
        let args;
        parenthesized!(args in input);
        if args.is_empty() {
            return Err(args.error("`focus` needs a lens: `focus(Agent::memory) { .. }`"));
        }
        let lens = expr(&args)?;
        trailing_comma(&args)?;
        expect_end(&args, "in `focus(..)`: it takes one lens")?;
        let body = parse_body(input, "focus")?;
        return Ok(Term::Focus { lens, body });
    }
    if input.peek(Token![loop]) {
        return parse_loop(input);
    }
    if input.peek(kw::blocking) && input.peek2(token::Paren) {
        input.parse::<kw::blocking>()?;
        let args;
        parenthesized!(args in input);
        let f = expr(&args)?;
        trailing_comma(&args)?;
        expect_end(&args, "in `blocking(..)`: it takes one function")?;
        return Ok(Term::Blocking(f));
    }
    parse_step(input)
}

fn parse_step(input: ParseStream) -> syn::Result<Term> {
    if input.peek(token::Paren) {
        let content;
        let paren = parenthesized!(content in input);
        if content.is_empty() {
            return Err(syn::Error::new(
                paren.span.join(),
                "expected a step inside `( )`",
            ));
        }
        let step = expr(&content)?;
        expect_end(&content, "in this parenthesized step")?;
        return Ok(Term::Step(step));
    }
    if input.peek(Token![|])
        || input.peek(Token![||])
        || input.peek(Token![async])
        || input.peek(Token![move])
    {
        return Err(input.error("closures in a plan go in parentheses: `(|x: Input| ..)`"));
    }
    if input.peek(syn::Lit) {
        return Err(
            input.error("expected a step (a function, a call, or `(expr)`), found a literal")
        );
    }
    let lookahead = input.lookahead1();
    if !(lookahead.peek(syn::Ident)
        || lookahead.peek(Token![::])
        || lookahead.peek(Token![<])
        || lookahead.peek(Token![self])
        || lookahead.peek(Token![crate])
        || lookahead.peek(Token![super])
        || lookahead.peek(Token![Self]))
    {
        let mut err = input.error("expected a step: a function path (`parse`, `tools::search`), a call (`search(Engine::Web)`), `(expr)`, or a construct (`par`, `each`, `choose`, `focus`, `loop`, `seq`, `blocking`)");
        if input.peek(Token![if]) || input.peek(Token![else]) || input.peek(Token![while]) {
            err = input.error("`if`/`else`/`while` go inside `choose { .. }` and `loop(..)`");
        }
        return Err(err);
    }
    let path: ExprPath = input.parse()?;
    if input.peek(token::Paren) {
        let args;
        let paren = parenthesized!(args in input);
        let args = Punctuated::<Expr, Token![,]>::parse_terminated(&args)?;
        return Ok(Term::Step(Expr::Call(ExprCall {
            attrs: Vec::new(),
            func: Box::new(Expr::Path(path)),
            paren_token: paren,
            args,
        })));
    }
    if input.peek(Token![.]) {
        return Err(input.error("a method or field cannot be a step directly: wrap it in a closure, `(|q: Query| client.search(q))`, or an expression in parentheses"));
    }
    Ok(Term::Step(Expr::Path(path)))
}

fn parse_par(input: ParseStream) -> syn::Result<Term> {
    let keyword: kw::par = input.parse()?;
    let group = if input.peek(token::Paren) {
        let args;
        parenthesized!(args in input);
        parse_group(&args, "par")?
    } else {
        Group {
            policy: Policy::All,
            written: "all".to_owned(),
            timeout: None,
            limit: None,
        }
    };
    if !input.peek(token::Brace) {
        return Err(input.error("expected `{ branch, branch, .. }` after `par(..)`"));
    }
    let content;
    let brace = braced!(content in input);
    let mut branches = Vec::new();
    while !content.is_empty() {
        branches.push(parse_chain(&content)?);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    if branches.is_empty() {
        return Err(syn::Error::new(
            brace.span.join(),
            "empty `par`: give it at least one branch, e.g. `par(all) { search_web, search_papers }`",
        ));
    }
    if branches.len() > MAX_PAR_BRANCHES {
        return Err(syn::Error::new(
            keyword.span,
            format!(
                "`par` takes at most {MAX_PAR_BRANCHES} branches (this one has {}): nest groups, or fan one step out over data with `each`",
                branches.len()
            ),
        ));
    }
    Ok(Term::Par { group, branches })
}

const POLICIES: &str = "policies are `all`, `settled`, `first`, `first_completed`, `n_best(N, by = score)` and `best(by = score)`";

/// `POLICY[, timeout = DURATION][, limit = N]` inside `par(..)`/`each(..)`.
fn parse_group(args: ParseStream, what: &str) -> syn::Result<Group> {
    if args.is_empty() {
        return Err(args.error(format!("`{what}(..)` needs a policy: {POLICIES}")));
    }
    let start = args.cursor();
    let span = args.span();
    let lookahead = args.lookahead1();
    let policy = if lookahead.peek(kw::all) {
        args.parse::<kw::all>()?;
        Policy::All
    } else if lookahead.peek(kw::settled) {
        args.parse::<kw::settled>()?;
        Policy::Settled
    } else if lookahead.peek(kw::first_completed) {
        args.parse::<kw::first_completed>()?;
        Policy::FirstCompleted
    } else if lookahead.peek(kw::first) {
        args.parse::<kw::first>()?;
        Policy::First
    } else if lookahead.peek(kw::n_best) {
        args.parse::<kw::n_best>()?;
        let inner;
        parenthesized!(inner in args);
        if inner.is_empty() {
            return Err(inner.error("`n_best` needs a count and a score: `n_best(2, by = score)`"));
        }
        let n = expr(&inner)?;
        if inner.is_empty() {
            return Err(syn::Error::new(
                n.span(),
                "`n_best` needs a score to rank by: `n_best(2, by = score)`",
            ));
        }
        inner.parse::<Token![,]>()?;
        let by = parse_by(&inner, "n_best")?;
        Policy::NBest {
            n: Box::new(n),
            by: Box::new(by),
        }
    } else if lookahead.peek(kw::best) {
        args.parse::<kw::best>()?;
        let inner;
        parenthesized!(inner in args);
        let by = parse_by(&inner, "best")?;
        Policy::Best { by: Box::new(by) }
    } else {
        let mut err = lookahead.error();
        err.combine(syn::Error::new(span, format!("unknown policy: {POLICIES}")));
        return Err(err);
    };
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
        let lookahead = args.lookahead1();
        if lookahead.peek(kw::timeout) {
            let key: kw::timeout = args.parse()?;
            args.parse::<Token![=]>()?;
            if group.timeout.replace(args.parse()?).is_some() {
                return Err(syn::Error::new(key.span, "`timeout` is given twice"));
            }
        } else if lookahead.peek(kw::limit) {
            let key: kw::limit = args.parse()?;
            args.parse::<Token![=]>()?;
            if group.limit.replace(expr(args)?).is_some() {
                return Err(syn::Error::new(key.span, "`limit` is given twice"));
            }
        } else {
            let mut err = lookahead.error();
            err.combine(syn::Error::new(
                args.span(),
                format!(
                    "unknown `{what}` option: options are `timeout = DURATION` and `limit = N`"
                ),
            ));
            return Err(err);
        }
    }
    Ok(group)
}

/// `by = score` inside `n_best(..)`/`best(..)`.
fn parse_by(inner: ParseStream, policy: &str) -> syn::Result<Expr> {
    if !inner.peek(kw::by) {
        return Err(inner.error(format!(
            "`{policy}` needs a score to rank by: `by = score`, where `score: Fn(&Output) -> K` and `K: PartialOrd`"
        )));
    }
    inner.parse::<kw::by>()?;
    inner.parse::<Token![=]>()?;
    let by = expr(inner)?;
    inner.parse::<Option<Token![,]>>()?;
    expect_end(inner, &format!("in `{policy}(..)`"))?;
    Ok(by)
}

fn parse_choose(input: ParseStream) -> syn::Result<Term> {
    let keyword: kw::choose = input.parse()?;
    if input.peek(token::Paren) {
        let args;
        parenthesized!(args in input);
        if args.is_empty() {
            return Err(args.error("`choose(..)` takes a router: `choose(route) { Pat => step, .. }`; or write `choose { if p => a, else => b }`"));
        }
        let router = expr(&args)?;
        trailing_comma(&args)?;
        expect_end(&args, "in `choose(..)`: it takes one router")?;
        let content;
        let brace = braced!(content in input);
        let mut arms = Vec::new();
        while !content.is_empty() {
            let start = content.cursor();
            let span = content.span();
            let pat = Pat::parse_multi_with_leading_vert(&content)?;
            let guard = if content.peek(Token![if]) {
                content.parse::<Token![if]>()?;
                Some(expr(&content)?)
            } else {
                None
            };
            let label = source_text(start, content.cursor(), span);
            content.parse::<Token![=>]>()?;
            let body = parse_chain(&content)?;
            arms.push(RouteArm {
                pat,
                guard,
                label,
                body,
            });
            if !content.is_empty() {
                content.parse::<Token![,]>()?;
            }
        }
        if arms.is_empty() {
            return Err(syn::Error::new(
                brace.span.join(),
                "empty `choose`: write arms `Pattern => step`",
            ));
        }
        return Ok(Term::Route { router, arms });
    }
    let content;
    braced!(content in input);
    let mut arms = Vec::new();
    let mut otherwise = None;
    while !content.is_empty() {
        if content.peek(Token![else]) {
            let else_token: Token![else] = content.parse()?;
            content.parse::<Token![=>]>()?;
            otherwise = Some(parse_chain(&content)?);
            content.parse::<Option<Token![,]>>()?;
            if !content.is_empty() {
                return Err(syn::Error::new(
                    else_token.span,
                    "`else` must be the last arm of `choose`",
                ));
            }
            break;
        }
        if !content.peek(Token![if]) {
            return Err(content.error("`choose` arms are `if condition => step` and a final `else => step`; to match patterns, write `choose(router) { Pat => step, .. }`"));
        }
        content.parse::<Token![if]>()?;
        let start = content.cursor();
        let span = content.span();
        let cond = expr(&content)?;
        let label = source_text(start, content.cursor(), span);
        content.parse::<Token![=>]>()?;
        let body = parse_chain(&content)?;
        arms.push((cond, label, body));
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    let Some(otherwise) = otherwise else {
        return Err(syn::Error::new(
            keyword.span,
            "`choose` needs a final `else => step` arm, so that every input has somewhere to go",
        ));
    };
    Ok(Term::ChooseIf { arms, otherwise })
}

fn parse_loop(input: ParseStream) -> syn::Result<Term> {
    let keyword: Token![loop] = input.parse()?;
    if !input.peek(token::Paren) {
        return Err(syn::Error::new(
            keyword.span,
            "`loop` needs a condition and a bound: `loop(until = done, max = 3) { .. }`",
        ));
    }
    let args;
    parenthesized!(args in input);
    let mut cond: Option<(bool, Expr)> = None;
    let mut max = None;
    let mut stop_at_limit = false;
    let mut on_limit_seen = false;
    while !args.is_empty() {
        let lookahead = args.lookahead1();
        if lookahead.peek(Token![while]) || lookahead.peek(kw::until) {
            let until = args.peek(kw::until);
            let span = args.span();
            if until {
                args.parse::<kw::until>()?;
            } else {
                args.parse::<Token![while]>()?;
            }
            args.parse::<Token![=]>()?;
            if cond.replace((until, expr(&args)?)).is_some() {
                return Err(syn::Error::new(
                    span,
                    "a loop has one condition: `while = p` or `until = p`",
                ));
            }
        } else if lookahead.peek(kw::max) {
            let key: kw::max = args.parse()?;
            args.parse::<Token![=]>()?;
            if max.replace(expr(&args)?).is_some() {
                return Err(syn::Error::new(key.span, "`max` is given twice"));
            }
        } else if lookahead.peek(kw::on_limit) {
            let key: kw::on_limit = args.parse()?;
            if on_limit_seen {
                return Err(syn::Error::new(key.span, "`on_limit` is given twice"));
            }
            on_limit_seen = true;
            args.parse::<Token![=]>()?;
            let lookahead = args.lookahead1();
            if lookahead.peek(kw::stop) {
                args.parse::<kw::stop>()?;
                stop_at_limit = true;
            } else if lookahead.peek(kw::error) {
                args.parse::<kw::error>()?;
            } else {
                let mut err = lookahead.error();
                err.combine(syn::Error::new(
                    args.span(),
                    "`on_limit = stop` returns the last state when passes run out; `on_limit = error` (the default) fails with `PlanError::LoopLimit`",
                ));
                return Err(err);
            }
        } else {
            let mut err = lookahead.error();
            err.combine(syn::Error::new(
                args.span(),
                "loop options are `while = p` or `until = p`, `max = N`, and `on_limit = stop|error`",
            ));
            return Err(err);
        }
        if !args.is_empty() {
            args.parse::<Token![,]>()?;
        }
    }
    let Some((until, pred)) = cond else {
        return Err(syn::Error::new(
            keyword.span,
            "`loop` needs a condition: `while = p` (checked before each pass) or `until = p` (after each pass)",
        ));
    };
    let Some(max) = max else {
        return Err(syn::Error::new(
            keyword.span,
            "`loop` needs `max = N`: every loop in a plan is bounded",
        ));
    };
    let body = parse_body(input, "loop")?;
    Ok(Term::Loop {
        until,
        pred,
        max,
        stop_at_limit,
        body,
    })
}
