//! `loop(while = p | until = p, max = n, on_limit = stop | error) { body }`.

use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Token, parenthesized, token};

use crate::choose::{Condition, predicate};
use crate::expander::{Agreement, Expander, Flow, Input};
use crate::item::{Chain, Expanded, Site, parse_body};
use crate::keyword as kw;
use crate::parse::{expr, positive};
use crate::source::source_text;
use crate::suggest::unknown;
use crate::typed::count;

pub struct Loop {
    /// `until` (checked after each pass) rather than `while` (before).
    pub until: bool,
    pub pred: Expr,
    /// The condition as written, for messages.
    pub pred_source: String,
    pub max: Expr,
    pub stop_at_limit: bool,
    pub body: Chain,
}

const OPTIONS: &[&str] = &["while", "until", "max", "on_limit"];

impl Parse for Loop {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let keyword: Token![loop] = input.parse()?;
        if !input.peek(token::Paren) {
            return Err(syn::Error::new(
                keyword.span,
                "`loop` needs a condition and a bound: `loop(until = done, max = 3) { .. }`",
            ));
        }
        let args;
        parenthesized!(args in input);
        let mut cond: Option<(bool, Expr, String)> = None;
        let mut max = None;
        let mut stop_at_limit = false;
        let mut on_limit_seen = false;
        while !args.is_empty() {
            if args.peek(Token![while]) || args.peek(kw::until) {
                let until = args.peek(kw::until);
                let span = args.span();
                if until {
                    args.parse::<kw::until>()?;
                } else {
                    args.parse::<Token![while]>()?;
                }
                args.parse::<Token![=]>()?;
                let (start, at) = (args.cursor(), args.span());
                let pred = expr(&args)?;
                let source = source_text(start, args.cursor(), at);
                if cond.replace((until, pred, source)).is_some() {
                    return Err(syn::Error::new(
                        span,
                        "a loop has one condition: `while = p` or `until = p`",
                    ));
                }
            } else if args.peek(kw::max) {
                let key: kw::max = args.parse()?;
                args.parse::<Token![=]>()?;
                let value = expr(&args)?;
                positive(&value, "`max = N` allows at most N passes, so N")?;
                if max.replace(value).is_some() {
                    return Err(syn::Error::new(key.span, "`max` is given twice"));
                }
            } else if args.peek(kw::on_limit) {
                let key: kw::on_limit = args.parse()?;
                if on_limit_seen {
                    return Err(syn::Error::new(key.span, "`on_limit` is given twice"));
                }
                on_limit_seen = true;
                args.parse::<Token![=]>()?;
                if args.peek(kw::stop) {
                    args.parse::<kw::stop>()?;
                    stop_at_limit = true;
                } else if args.peek(kw::error) {
                    args.parse::<kw::error>()?;
                } else {
                    return Err(unknown(
                        &args,
                        "`on_limit` value",
                        &["stop", "error"],
                        "`on_limit = stop` returns the last state when passes run out; `on_limit = error`, the default, fails with `PlanError::LoopLimit`",
                    ));
                }
            } else {
                return Err(unknown(
                    &args,
                    "`loop` option",
                    OPTIONS,
                    "loop options are `while = p` or `until = p`, `max = N`, and `on_limit = stop|error`",
                ));
            }
            if !args.is_empty() {
                args.parse::<Token![,]>()?;
            }
        }
        let Some((until, pred, pred_source)) = cond else {
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
        Ok(Loop {
            until,
            pred,
            pred_source,
            max,
            stop_at_limit,
            body,
        })
    }
}

impl Loop {
    pub fn expand(&self, x: &mut Expander, site: &Site<'_>, input: Input) -> Expanded {
        let body_input = Input {
            gives: format!("the `loop`'s state (from {}) is `{{Self}}`", input.from),
            ..input.clone()
        };
        let body = self.body.expand(x, site.path, false, body_input);
        let state = x.either(&input.shadow, &body.takes);
        let message = format!(
            "mismatched types in plan: a `loop` body gives back the state it takes, but {} gives `{{Self}}` where the state is `{{T}}`",
            self.body.last_label()
        );
        x.agree(
            self.body.span(),
            &body.out,
            &state,
            Agreement {
                name: "loop_gives_back_its_state",
                message: &message,
                label: "gives `{Self}`, not `{T}`",
                note: "each pass of a `loop` feeds its output to the next pass: the body is `{T} -> {T}`",
            },
        );
        let pred = predicate(x, &self.pred, &self.pred_source, Condition::Loop, &state);
        let check = if self.until {
            quote!(::plan_runtime::nodes::Check::Until)
        } else {
            quote!(::plan_runtime::nodes::Check::While)
        };
        let on_limit = self
            .stop_at_limit
            .then(|| quote!(.on_limit(::plan_runtime::nodes::OnLimit::Stop)));
        let (max, tree) = (count(&self.max, (quote!(u32), "u32")), &body.tree);
        Expanded {
            flow: Flow {
                tree: quote_spanned!(site.span=> ::plan_runtime::nodes::r#loop(#check, #pred, #max, #tree)#on_limit),
                out: state.clone(),
                takes: state,
            },
            kind: "Loop",
            default_name: "loop".into(),
            policy: None,
        }
    }
}
