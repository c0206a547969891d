//! Chains (`a >> b >> c`) and their items: attributes and one term each, parsed and
//! expanded; each construct's own parsing and expansion is in its module.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Token, braced, token};

use crate::attr::{self, Wrapper};
use crate::bindings::Bindings;
use crate::choose::{ChooseIf, Route};
use crate::each::Each;
use crate::expander::{Compare, Expander, Flow, Input, check_name, code};
use crate::focus::Focus;
use crate::loops::Loop;
use crate::par::Par;
use crate::source::{escape, source_text};
use crate::step::{Blocking, Step};
use crate::typed::count;
use crate::{keyword, seq};

/// Items joined by `>>`.
pub struct Chain {
    pub items: Vec<Item>,
}

/// One item of a chain: attributes and a term.
pub struct Item {
    /// `#[timeout]` and `#[retry]`, outermost first.
    pub wrappers: Vec<Wrapper>,
    pub name: Option<LitStr>,
    pub term: Term,
    /// The item's first token, for locations and diagnostics.
    pub span: Span,
    /// Source text of the term.
    pub source: String,
}

/// What an item is.
pub enum Term {
    Step(Step),
    Blocking(Blocking),
    Seq(Body),
    Par(Par),
    Each(Each),
    ChooseIf(ChooseIf),
    Route(Route),
    Focus(Focus),
    Loop(Loop),
}

/// A plan's body, or a `seq`'s: a chain, or a block of bindings.
pub enum Body {
    Chain(Chain),
    Bindings(Bindings),
}

impl Body {
    /// Parses a chain, or bindings if the body starts with `let`.
    pub fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![let]) {
            return Ok(Body::Bindings(input.parse()?));
        }
        let chain = parse_chain(input)?;
        if input.peek(Token![;]) {
            return Err(input.error(
                "`;` ends a `let` binding; a body without bindings is one chain of steps joined by `>>`",
            ));
        }
        Ok(Body::Chain(chain))
    }

    pub fn expand(&self, x: &mut Expander, prefix: &str, input: Input) -> Flow {
        match self {
            Body::Chain(chain) => chain.expand(x, prefix, false, input),
            Body::Bindings(bindings) => bindings.expand(x, prefix, input),
        }
    }
}

/// Items joined by `>>`, up to the end of `input`, a `,` or a `;`.
pub fn parse_chain(input: ParseStream) -> syn::Result<Chain> {
    let mut items = vec![input.parse::<Item>()?];
    while input.peek(Token![>>]) {
        let arrow: Token![>>] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) || input.peek(Token![;]) {
            return Err(syn::Error::new(
                arrow.span(),
                "`>>` must be followed by a step",
            ));
        }
        items.push(input.parse()?);
    }
    if !input.is_empty() && !input.peek(Token![,]) && !input.peek(Token![;]) {
        return Err(input.error(
            "expected `>>` between steps (or `,` between branches); wrap a complex expression in parentheses: `(expr)`",
        ));
    }
    Ok(Chain { items })
}

/// The body of a construct: `{ chain }`.
pub fn parse_body(input: ParseStream, what: &str) -> syn::Result<Chain> {
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
            attr::parse(input, &mut wrappers, &mut name)?;
        }
        let span = input.span();
        let start = input.cursor();
        let term = keyword::parse_term(input)?;
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

impl Term {
    /// The chains inside a construct (none in a step).
    pub fn chains(&self) -> Vec<&Chain> {
        match self {
            Term::Step(_) | Term::Blocking(_) => Vec::new(),
            Term::Seq(Body::Chain(chain)) => vec![chain],
            Term::Seq(Body::Bindings(bindings)) => bindings.chains().collect(),
            Term::Par(par) => par.branches.iter().collect(),
            Term::Each(each) => vec![&each.body],
            Term::ChooseIf(choose) => choose
                .arms
                .iter()
                .map(|arm| &arm.body)
                .chain([&choose.otherwise])
                .collect(),
            Term::Route(route) => route.arms.iter().map(|arm| &arm.body).collect(),
            Term::Focus(focus) => vec![&focus.body],
            Term::Loop(looped) => vec![&looped.body],
        }
    }
}

/// A node's path: child `index` of `prefix`.
pub fn child(prefix: &str, index: usize) -> String {
    if prefix.is_empty() {
        index.to_string()
    } else {
        format!("{prefix}/{index}")
    }
}

/// What an item expands with besides its input: where it is.
pub struct Site<'a> {
    pub path: &'a str,
    pub span: Span,
}

/// A construct's expansion: its tree and shadows, and what its `NodeInfo` says.
pub struct Expanded {
    pub flow: Flow,
    pub kind: &'static str,
    pub default_name: String,
    pub policy: Option<String>,
}

impl Chain {
    /// Expands the chain as a balanced tree of `seq`, so that long chains nest only
    /// logarithmically. With `collapse`, a one-item chain takes the path `prefix` itself (a
    /// `par` branch).
    pub fn expand(&self, x: &mut Expander, prefix: &str, collapse: bool, input: Input) -> Flow {
        let mut trees = Vec::with_capacity(self.items.len());
        let mut input = input;
        let mut takes = None;
        for (index, item) in self.items.iter().enumerate() {
            let path = if collapse && self.items.len() == 1 {
                prefix.to_owned()
            } else {
                child(prefix, index)
            };
            let from = code(&item.label());
            let flow = item.expand(x, &path, input);
            takes.get_or_insert(flow.takes);
            trees.push(flow.tree);
            input = Input::from_item(flow.out, from);
        }
        Flow {
            tree: seq::balanced(&trees),
            out: input.shadow,
            takes: takes.expect("a chain has at least one item"),
        }
    }

    /// Where a chain's type mismatches are reported: its last item, whose output it is.
    pub fn span(&self) -> Span {
        self.items
            .last()
            .map_or_else(Span::call_site, |item| item.span)
    }

    /// The chain's last item, as messages name it.
    pub fn last_label(&self) -> String {
        self.items
            .last()
            .map_or_else(String::new, |item| code(&item.label()))
    }
}

impl Item {
    /// How messages name this item: its `#[name]`, a step's source text, or a construct's
    /// keyword and policy.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.value();
        }
        match &self.term {
            Term::Step(_) | Term::Blocking(_) => self.source.clone(),
            Term::Seq(Body::Chain(chain)) => chain
                .items
                .last()
                .map_or_else(|| "seq".to_owned(), Item::label),
            Term::Seq(Body::Bindings(_)) => "seq".to_owned(),
            Term::Par(par) => format!("par({})", par.group.written),
            Term::Each(each) => format!("each({})", each.group.written),
            Term::ChooseIf(_) | Term::Route(_) => "choose".to_owned(),
            Term::Focus(focus) => format!("focus({})", focus.lens_source),
            Term::Loop(_) => "loop".to_owned(),
        }
    }

    /// Expands the item: its term, wrapped in its attributes, in its node.
    fn expand(&self, x: &mut Expander, path: &str, input: Input) -> Flow {
        let site = Site {
            path,
            span: self.span,
        };
        let input_shadow = input.shadow.clone();
        let Expanded {
            flow,
            kind,
            default_name,
            policy,
        } = match &self.term {
            Term::Step(step) => step.expand(x, &self.source, input),
            Term::Blocking(blocking) => blocking.expand(x, &self.source, input),
            Term::Seq(body) => Expanded {
                flow: body.expand(x, path, input),
                kind: "Seq",
                default_name: "seq".into(),
                policy: None,
            },
            Term::Par(par) => par.expand(x, &site, input),
            Term::Each(each) => each.expand(x, &site, input),
            Term::ChooseIf(choose) => choose.expand(x, &site, input),
            Term::Route(route) => route.expand(x, &site, input),
            Term::Focus(focus) => focus.expand(x, &site, input),
            Term::Loop(looped) => looped.expand(x, &site, input),
        };
        let all_durable =
            (x.durable_steps && matches!(kind, "Step" | "Blocking")).then_some(self.span);
        let tree = wrap(
            x,
            &self.wrappers,
            &self.label(),
            &input_shadow,
            &flow,
            all_durable,
        );
        let name = self.name.as_ref().map_or(default_name, LitStr::value);
        let info = x.info(
            &name,
            kind,
            path,
            &self.source,
            policy.as_deref(),
            self.span,
        );
        let tree = match kind {
            "Step" | "Blocking" => quote!(::plan_runtime::nodes::leaf(&#info, #tree)),
            _ => quote!(::plan_runtime::nodes::node(&#info, #tree)),
        };
        Flow { tree, ..flow }
    }
}

/// `tree`, the item `label`, wrapped in `layer`, written `source`. Through a trait of its own,
/// named for the item, so that a value that is not a `Layer` is an error that names the
/// attribute and the item, not only the value's type.
fn layered(layer: &Expr, source: &str, label: &str, tree: TokenStream) -> TokenStream {
    // Spanned on the layer, not mixed-site: the call's own bound is then reported on the layer
    // too, as one error, not a second one on the whole plan.
    let name = Ident::new(&check_name(label, "is_layered"), layer.span());
    let message = format!(
        "`#[layer({})]` wraps {} in `{{Self}}`, which is not a layer",
        escape(source),
        code(label)
    );
    let (plan, wrapper) = (
        Ident::new("P", Span::mixed_site()),
        Ident::new("L", Span::mixed_site()),
    );
    quote_spanned! {layer.span()=>
        {
            #[diagnostic::on_unimplemented(
                message = #message,
                label = "not a `Layer`",
                note = "a `Middleware` is made a layer with `around(..)`: `#[layer(around(cache))]`, or `let cache = around(Cache::new());` then `#[layer(cache)]`"
            )]
            #[allow(non_camel_case_types)]
            trait #name<#plan> {
                type Plan;
                fn layer(&self, plan: #plan) -> Self::Plan;
            }
            #[diagnostic::do_not_recommend]
            impl<#wrapper: ::plan_runtime::layer::Layer<#plan>, #plan> #name<#plan> for #wrapper {
                type Plan = #wrapper::Plan;
                fn layer(&self, plan: #plan) -> Self::Plan {
                    ::plan_runtime::layer::Layer::layer(self, plan)
                }
            }
            #name::layer(&(#layer), #tree)
        }
    }
}

/// `flow`'s tree wrapped in `wrappers` (outermost first, `#[durable]` outside them all), for
/// the item or binding `label` whose input is `input`; durable also when `all_durable` (a
/// step of a `#![durable]` plan, at the step).
pub fn wrap(
    x: &mut Expander,
    wrappers: &[Wrapper],
    label: &str,
    input: &Ident,
    flow: &Flow,
    all_durable: Option<Span>,
) -> TokenStream {
    let mut tree = flow.tree.clone();
    // Where the node is made durable, and whether by the plan's `#![durable]`.
    let mut durable = all_durable.map(|span| (span, true));
    for wrapper in wrappers.iter().rev() {
        tree = match wrapper {
            Wrapper::Durable(span) => {
                durable = Some((*span, false));
                continue;
            }
            Wrapper::Layer { layer, source } => layered(layer, source, label, tree),
            Wrapper::Timeout(after) => {
                let after = after.to_tokens();
                quote!(::plan_runtime::nodes::timeout(#after, #tree))
            }
            Wrapper::Hedge { hedge, span } => {
                let state = x.either(input, &flow.takes);
                let message = format!(
                    "`#[hedge]` runs {} again beside a slow call with a clone of its input, but `{{Self}}` is not `Clone`",
                    code(label)
                );
                x.check(
                    *span,
                    Compare::Holds(check_name(label, "is_hedged_on_a_clone")),
                    quote!((&&&CloneProbe(#state)).check()),
                    &message,
                    "`{Self}` is not `Clone`",
                    "each attempt gets its own clone of the input: add `#[derive(Clone)]` to `{Self}` (or share it in an `Arc`)",
                );
                quote_spanned!(*span=> ::plan_runtime::nodes::hedge(#hedge, #tree))
            }
            Wrapper::Retry {
                attempts,
                backoff,
                span,
            } => {
                let state = x.either(input, &flow.takes);
                let message = format!(
                    "`#[retry]` runs {} again with a clone of its input, but `{{Self}}` is not `Clone`",
                    code(label)
                );
                x.check(
                    *span,
                    Compare::Holds(check_name(label, "is_retried_on_a_clone")),
                    quote!((&&&CloneProbe(#state)).check()),
                    &message,
                    "`{Self}` is not `Clone`",
                    "each attempt gets its own clone of the input: add `#[derive(Clone)]` to `{Self}` (or share it in an `Arc`)",
                );
                let backoff = backoff
                    .as_ref()
                    .map_or_else(|| quote!(::core::time::Duration::ZERO), |b| b.to_tokens());
                let attempts_count = count(attempts, (quote!(u32), "u32"));
                quote_spanned!(attempts.span()=> ::plan_runtime::nodes::retry(#attempts_count, #backoff, #tree))
            }
        };
    }
    if let Some((span, by_plan)) = durable {
        let out = &flow.out;
        let message = if by_plan {
            format!(
                "`#![durable]` journals the output of every step, but {} gives `{{Self}}`, which cannot be journaled",
                code(label)
            )
        } else {
            format!(
                "`#[durable]` journals the output of {}, but `{{Self}}` cannot be journaled",
                code(label)
            )
        };
        x.check(
            span,
            Compare::Holds(check_name(label, "output_is_journaled")),
            quote!((&&&JournalProbe(#out)).check()),
            &message,
            "`{Self}` is not `Serialize` + `Deserialize`",
            "a durable run writes the output as JSON and reads it back after a crash: derive `serde::Serialize` and `serde::Deserialize` for `{Self}`, or make a node whose output is serde durable instead",
        );
        tree = quote!(::plan_runtime::nodes::durable(#tree));
    }
    tree
}
