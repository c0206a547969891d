//! `choose { if p => a, .., else => b }` and `choose(router) { Pat => a, .. }`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Pat, Token, braced, parenthesized, token};

use crate::expander::{Agreement, Compare, Expander, Flow, Input, check_name, code, ident_of};
use crate::item::{Chain, Expanded, Site, Term, child, parse_chain};
use crate::keyword as kw;
use crate::parse::{expect_end, expr, trailing_comma};
use crate::source::{escape, source_text};

/// `choose { if p => chain, .., else => chain }`.
pub struct ChooseIf {
    pub arms: Vec<IfArm>,
    pub otherwise: Chain,
}

pub struct IfArm {
    pub cond: Expr,
    /// The condition's source text: the arm's label.
    pub label: String,
    pub body: Chain,
}

/// `choose(router) { Pat => chain, .. }`.
pub struct Route {
    pub router: Expr,
    /// The router as written, for messages.
    pub router_source: String,
    pub arms: Vec<RouteArm>,
}

pub struct RouteArm {
    pub pat: Pat,
    pub guard: Option<Expr>,
    pub label: String,
    pub body: Chain,
}

/// Parses either form.
pub fn parse(input: ParseStream) -> syn::Result<Term> {
    let keyword: kw::choose = input.parse()?;
    if input.peek(token::Paren) {
        return parse_route(input).map(Term::Route);
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
        arms.push(IfArm { cond, label, body });
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
    Ok(Term::ChooseIf(ChooseIf { arms, otherwise }))
}

fn parse_route(input: ParseStream) -> syn::Result<Route> {
    let args;
    parenthesized!(args in input);
    if args.is_empty() {
        return Err(args.error("`choose(..)` takes a router: `choose(route) { Pat => step, .. }`; or write `choose { if p => a, else => b }`"));
    }
    let (start, span) = (args.cursor(), args.span());
    let router = expr(&args)?;
    let router_source = source_text(start, args.cursor(), span);
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
    Ok(Route {
        router,
        router_source,
        arms,
    })
}

/// Expands the arms (one of them runs, on the input itself) and checks that
/// they all give the first arm's type. Returns their flows.
fn arms<'a>(
    x: &mut Expander,
    site: &Site<'_>,
    input: &Input,
    arms: impl Iterator<Item = (&'a Chain, String)>,
) -> Vec<Flow> {
    let mut flows: Vec<Flow> = Vec::new();
    let mut first_label = String::new();
    for (index, (body, name)) in arms.enumerate() {
        let flow = body.expand(x, &child(site.path, index), true, input.clone());
        if flows.is_empty() {
            first_label = body.last_label();
        }
        if let Some(first) = flows.first() {
            let message = format!(
                "mismatched types in plan: the arms of `choose` give one type, but {name} ({}) gives `{{Self}}` and the first arm ({first_label}) gives `{{T}}`",
                body.last_label()
            );
            let first = first.out.clone();
            x.agree(
                body.span(),
                &flow.out,
                &first,
                Agreement {
                    name: "choose_arms_give_one_type",
                    message: &message,
                    label: "gives `{Self}`, not `{T}`",
                    note: "`choose` runs one arm, whose output goes on through the plan: every arm produces the same type",
                },
            );
        }
        flows.push(flow);
    }
    flows
}

impl ChooseIf {
    pub fn expand(&self, x: &mut Expander, site: &Site<'_>, input: Input) -> Expanded {
        let names = self
            .arms
            .iter()
            .map(|arm| (&arm.body, format!("the arm `if {}`", escape(&arm.label))))
            .chain([(&self.otherwise, "the `else` arm".to_owned())]);
        let mut flows = arms(x, site, &input, names);
        let chains: Vec<&Chain> = self
            .arms
            .iter()
            .map(|arm| &arm.body)
            .chain([&self.otherwise])
            .collect();
        x.same_inputs(&input, &chains, &flows, "arm");
        let state = x.either(&input.shadow, &flows[0].takes);
        let otherwise = flows.pop().expect("`else` is parsed");
        let mut tree = {
            let body = &otherwise.tree;
            quote!(::plan_runtime::nodes::arm("else", #body))
        };
        let preds: Vec<_> = self
            .arms
            .iter()
            .map(|arm| predicate(x, &arm.cond, &arm.label, Condition::Arm, &state))
            .collect();
        for ((arm, flow), pred) in self.arms.iter().zip(&flows).zip(&preds).rev() {
            let (label, body) = (&arm.label, &flow.tree);
            tree = quote_spanned! {arm.cond.span()=>
                ::plan_runtime::nodes::if_else(#pred, ::plan_runtime::nodes::arm(#label, #body), #tree)
            };
        }
        let out = flows
            .first()
            .map_or(otherwise.out, |first| first.out.clone());
        Expanded {
            flow: Flow {
                tree,
                out,
                takes: state,
            },
            kind: "Choose",
            default_name: "choose".into(),
            policy: None,
        }
    }
}

/// Where a condition stands, for its check's note.
pub enum Condition {
    /// A `choose` arm's `if`.
    Arm,
    /// A `loop`'s `while` or `until`.
    Loop,
}

/// Binds a condition, written `source`, and checks that it reads `state` by reference.
pub fn predicate(
    x: &mut Expander,
    cond: &Expr,
    source: &str,
    at: Condition,
    state: &Ident,
) -> Ident {
    let (pred, ty) = x.bind("pred", quote_spanned!(cond.span()=> #cond));
    let name = ident_of(source).unwrap_or("done");
    let note = match at {
        Condition::Arm => format!(
            "a `choose` arm's `if` reads the data by reference to pick the arm: `fn {name}(input: &{{T}}) -> bool`"
        ),
        Condition::Loop => format!(
            "a `loop` reads its state by reference to decide whether to go on: `fn {name}(state: &{{T}}) -> bool`"
        ),
    };
    x.check(
        cond.span(),
        Compare::Fits(check_name(source, "is_a_condition_on")),
        quote!((&&&PredicateProbe(#ty, #state)).check()),
        &format!("{} must take `&{{T}}` and return `bool`", code(source)),
        "expected `Fn(&{T}) -> bool`",
        &note,
    );
    pred
}

impl Route {
    pub fn expand(&self, x: &mut Expander, site: &Site<'_>, input: Input) -> Expanded {
        let names = self
            .arms
            .iter()
            .map(|arm| (&arm.body, format!("the arm `{}`", escape(&arm.label))));
        let flows = arms(x, site, &input, names);
        let chains: Vec<&Chain> = self.arms.iter().map(|arm| &arm.body).collect();
        x.same_inputs(&input, &chains, &flows, "arm");
        let state = x.either(&input.shadow, &flows[0].takes);
        let router = &self.router;
        let (route, ty) = x.bind("router", quote_spanned!(router.span()=> #router));
        let source = &self.router_source;
        let name = ident_of(source).unwrap_or("route");
        x.check(
            router.span(),
            Compare::Fits(check_name(source, "is_a_router_of")),
            quote!((&&&RouterProbe(#ty, #state)).check()),
            &format!("{} must take `&{{T}}`", code(source)),
            "expected `Fn(&{T}) -> R`",
            &format!(
                "`choose({})` matches its arms' patterns on `{name}(&input)`: `fn {name}(input: &{{T}}) -> Kind`",
                escape(source)
            ),
        );
        let bodies: Vec<TokenStream> = self
            .arms
            .iter()
            .zip(&flows)
            .map(|(arm, flow)| {
                let (label, body) = (&arm.label, &flow.tree);
                quote!(::plan_runtime::nodes::arm(#label, #body))
            })
            .collect();
        let mut tree = bodies.last().cloned().unwrap_or_default();
        for body in bodies.iter().rev().skip(1) {
            tree = quote!(::plan_runtime::nodes::arms(#body, #tree));
        }
        let matches = self.arms.iter().enumerate().map(|(index, arm)| {
            let pat = &arm.pat;
            let guard = arm.guard.as_ref().map(|g| quote!(if #g));
            quote_spanned!(pat.span()=> #pat #guard => #index,)
        });
        let data = Ident::new("input", Span::mixed_site());
        let select = quote_spanned! {router.span()=>
            move |#data: &_| match {
                #[allow(unused_imports)]
                use ::plan_runtime::wiring::route::*;
                (&&RouteCall(&#route)).call(#data)
            } { #(#matches)* }
        };
        Expanded {
            flow: Flow {
                tree: quote!(::plan_runtime::nodes::route(#select, #tree)),
                out: flows[0].out.clone(),
                takes: state,
            },
            kind: "Choose",
            default_name: "choose".into(),
            policy: None,
        }
    }
}
