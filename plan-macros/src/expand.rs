//! Expanding a parsed plan into calls of `plan_runtime::nodes`: one `NodeInfo` constant per
//! node, one binding per step, a type-checked (never run) shadow of the dataflow that reports
//! wiring mistakes on the offending step, then the combinator tree.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use crate::ast::{Chain, Group, Item, PlanBody, Policy, Term, Wrapper};

/// Expands a whole plan.
pub fn expand(body: &PlanBody) -> TokenStream {
    let mut expander = Expander::default();
    let name = body
        .name
        .as_ref()
        .map_or_else(|| "plan".to_owned(), syn::LitStr::value);
    let root = expander.info(&name, "Plan", "", "plan! { .. }", None, Span::call_site());
    let input = expander.shadow(quote!(::plan_runtime::wiring::input()));
    let (tree, _) = expander.chain(&body.chain, "", false, &input);
    let Expander {
        infos,
        steps,
        checks,
        ..
    } = expander;
    let steps = steps.chunks(BINDINGS_PER_LET).map(|chunk| match chunk {
        [(name, value)] => quote!(let #name = #value;),
        _ => {
            let (names, values): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
            quote!(let (#(#names,)*) = (#(#values,)*);)
        }
    });
    quote! {
        {
            #(#infos)*
            #(#steps)*
            // A dead block, not a closure: a closure captures every step, which costs rustc
            // a quarter of its type checking on a 4,000-step chain (13.0 s -> 9.4 s).
            #[allow(unused_variables, clippy::all)]
            if false {
                use ::plan_runtime::wiring::probes::*;
                #(#checks)*
            }
            ::plan_runtime::nodes::root(&#root, #tree)
        }
    }
}

#[derive(Default)]
struct Expander {
    /// `NodeInfo` constants.
    infos: Vec<TokenStream>,
    /// Steps (and lenses) with the names they are bound to, evaluated once when the plan is
    /// built.
    steps: Vec<(Ident, TokenStream)>,
    /// The shadow program.
    checks: Vec<TokenStream>,
    names: usize,
}

fn child(prefix: &str, index: usize) -> String {
    if prefix.is_empty() {
        index.to_string()
    } else {
        format!("{prefix}/{index}")
    }
}

impl Expander {
    fn fresh(&mut self, prefix: &str) -> Ident {
        self.names += 1;
        Ident::new(
            &format!("__plan_{prefix}_{}", self.names),
            Span::mixed_site(),
        )
    }

    /// Binds a shadow value in the shadow program.
    fn shadow(&mut self, value: TokenStream) -> Ident {
        let ident = self.fresh("shadow");
        self.checks.push(quote!(let #ident = #value;));
        ident
    }

    /// Checks, in the shadow program, that `found` has the type of `expected` (reported at
    /// `span`).
    fn agree(&mut self, found: &Ident, expected: &Ident, span: Span) {
        self.checks.push(quote_spanned! {span=>
            ::plan_runtime::wiring::agree((&&SameProbe(#found, #expected)).same());
        });
    }

    /// Binds a step (or lens) value, evaluated once when the plan is built.
    fn bind(&mut self, prefix: &str, value: TokenStream) -> Ident {
        let ident = self.fresh(prefix);
        self.steps.push((ident.clone(), value));
        ident
    }

    /// Declares a `NodeInfo` constant and returns its name.
    fn info(
        &mut self,
        name: &str,
        kind: &str,
        path: &str,
        source: &str,
        policy: Option<&str>,
        span: Span,
    ) -> Ident {
        let ident = Ident::new(
            &format!("__PLAN_NODE_{}", self.infos.len()),
            Span::mixed_site(),
        );
        let kind = format_ident!("{}", kind);
        let policy = match policy {
            Some(policy) => quote!(::core::option::Option::Some(#policy)),
            None => quote!(::core::option::Option::None),
        };
        let start = span.start();
        let line = start.line as u32;
        let column = start.column as u32 + 1;
        self.infos.push(quote! {
            const #ident: ::plan_runtime::NodeInfo = ::plan_runtime::NodeInfo {
                name: #name,
                kind: ::plan_runtime::NodeKind::#kind,
                path: #path,
                source: #source,
                policy: #policy,
                file: ::core::file!(),
                line: #line,
                column: #column,
            };
        });
        ident
    }

    /// A chain as a balanced tree of `seq`, so that long chains nest only logarithmically.
    /// With `collapse`, a one-item chain takes the path `prefix` itself (a `par` branch).
    /// Returns the tree and the shadow of its output.
    fn chain(
        &mut self,
        chain: &Chain,
        prefix: &str,
        collapse: bool,
        input: &Ident,
    ) -> (TokenStream, Ident) {
        let mut shadow = input.clone();
        let mut items = Vec::with_capacity(chain.items.len());
        for (index, item) in chain.items.iter().enumerate() {
            let path = if collapse && chain.items.len() == 1 {
                prefix.to_owned()
            } else {
                child(prefix, index)
            };
            let (tree, out) = self.item(item, path, &shadow);
            items.push(tree);
            shadow = out;
        }
        (balanced(&items), shadow)
    }

    /// Returns the item's tree and the shadow of its output.
    fn item(&mut self, item: &Item, path: String, input: &Ident) -> (TokenStream, Ident) {
        let wire = quote!(::plan_runtime::wiring);
        let span = item.span;
        let output: Ident;
        let (core, kind, default_name, policy): (TokenStream, &str, String, Option<&str>) =
            match &item.term {
                Term::Step(expr) => {
                    let step = self.bind(
                        "step",
                        quote_spanned!(expr.span()=> ::plan_runtime::step!(#expr)),
                    );
                    self.checks.push(quote_spanned! {expr.span()=>
                        #wire::check((&&FeedProbe(&#step, #input)).feed());
                    });
                    output = self.shadow(quote!((&&OutProbe(&#step)).output()));
                    (quote!(#step), "Step", item.source.clone(), None)
                }
                Term::Blocking(f) => {
                    let step = self.bind(
                        "step",
                        quote_spanned!(f.span()=> ::plan_runtime::blocking!(#f)),
                    );
                    output = self.shadow(quote!(#wire::Unknown));
                    (quote!(#step), "Blocking", item.source.clone(), None)
                }
                Term::Seq(chain) => {
                    let (tree, out) = self.chain(chain, &path, false, input);
                    output = out;
                    (tree, "Seq", "seq".into(), None)
                }
                Term::Par { group, branches } => {
                    let branch_chains = branches;
                    let (branches, outs): (Vec<TokenStream>, Vec<Ident>) = branches
                        .iter()
                        .enumerate()
                        .map(|(index, branch)| {
                            self.chain(branch, &child(&path, index), true, input)
                        })
                        .unzip();
                    output = match group.policy {
                        Policy::All => self.shadow(quote!((&&TupleProbe((#(#outs,)*))).all())),
                        Policy::Settled => {
                            self.shadow(quote!((&&TupleProbe((#(#outs,)*))).settled()))
                        }
                        Policy::NBest { .. } => {
                            let first = &outs[0];
                            self.shadow(quote!(#wire::vec_of(#first)))
                        }
                        _ => outs[0].clone(),
                    };
                    if !matches!(group.policy, Policy::All | Policy::Settled) {
                        for (out, chain) in outs.iter().zip(branch_chains).skip(1) {
                            self.agree(out, &outs[0], chain_span(chain));
                        }
                    }
                    let policy = policy_tokens(&group.policy);
                    let options = group_options(group);
                    (
                        quote_spanned!(span=> ::plan_runtime::nodes::par(#policy, (#(#branches,)*))#options),
                        "Par",
                        "par".into(),
                        Some(group.written.as_str()),
                    )
                }
                Term::Each { group, body } => {
                    let item_shadow = self.shadow(quote!((&&ItemProbe(#input)).item()));
                    let (body, out) = self.chain(body, &path, false, &item_shadow);
                    output = match group.policy {
                        Policy::All | Policy::NBest { .. } => {
                            self.shadow(quote!(#wire::vec_of(#out)))
                        }
                        Policy::Settled => self.shadow(quote!(#wire::settled_of(#out))),
                        _ => out,
                    };
                    let policy = policy_tokens(&group.policy);
                    let options = group_options(group);
                    (
                        quote_spanned!(span=> ::plan_runtime::nodes::each(#policy, #body)#options),
                        "Each",
                        "each".into(),
                        Some(group.written.as_str()),
                    )
                }
                Term::ChooseIf { arms, otherwise } => {
                    let (chosen_arms, otherwise_chain) = (arms, otherwise);
                    let arms: Vec<_> = arms
                        .iter()
                        .enumerate()
                        .map(|(index, (cond, label, body))| {
                            (
                                cond,
                                label,
                                self.chain(body, &child(&path, index), true, input),
                            )
                        })
                        .collect();
                    let (otherwise, otherwise_out) =
                        self.chain(otherwise, &child(&path, arms.len()), true, input);
                    let mut outs: Vec<Ident> =
                        arms.iter().map(|(_, _, (_, out))| out.clone()).collect();
                    outs.push(otherwise_out);
                    let spans = chosen_arms
                        .iter()
                        .map(|(_, _, chain)| chain_span(chain))
                        .chain([chain_span(otherwise_chain)]);
                    for (out, span) in outs.iter().zip(spans).skip(1) {
                        self.agree(out, &outs[0], span);
                    }
                    output = outs.swap_remove(0);
                    let mut tree = quote!(::plan_runtime::nodes::arm("else", #otherwise));
                    let arms: Vec<_> = arms
                        .into_iter()
                        .map(|(cond, label, (body, _))| (cond, label, body))
                        .collect();
                    for (cond, label, body) in arms.into_iter().rev() {
                        tree = quote_spanned! {cond.span()=>
                            ::plan_runtime::nodes::if_else(
                                #cond,
                                ::plan_runtime::nodes::arm(#label, #body),
                                #tree,
                            )
                        };
                    }
                    (tree, "Choose", "choose".into(), None)
                }
                Term::Route { router, arms } => {
                    let mut outs = Vec::new();
                    let bodies: Vec<_> = arms
                        .iter()
                        .enumerate()
                        .map(|(index, arm)| {
                            let label = &arm.label;
                            let (body, out) =
                                self.chain(&arm.body, &child(&path, index), true, input);
                            outs.push(out);
                            quote!(::plan_runtime::nodes::arm(#label, #body))
                        })
                        .collect();
                    for (out, arm) in outs.iter().zip(arms).skip(1) {
                        self.agree(out, &outs[0], chain_span(&arm.body));
                    }
                    output = outs.swap_remove(0);
                    let mut tree = bodies.last().cloned().unwrap_or_default();
                    for body in bodies.iter().rev().skip(1) {
                        tree = quote!(::plan_runtime::nodes::arms(#body, #tree));
                    }
                    let matches = arms.iter().enumerate().map(|(index, arm)| {
                        let pat = &arm.pat;
                        let guard = arm.guard.as_ref().map(|g| quote!(if #g));
                        quote_spanned!(pat.span()=> #pat #guard => #index,)
                    });
                    let input = Ident::new("input", Span::mixed_site());
                    let route = Ident::new("route", Span::mixed_site());
                    let select = quote_spanned! {router.span()=>
                        {
                            let #route = #router;
                            #[allow(unused_variables)]
                            let select = move |#input: &_| match #route(#input) { #(#matches)* };
                            select
                        }
                    };
                    (
                        quote!(::plan_runtime::nodes::route(#select, #tree)),
                        "Choose",
                        "choose".into(),
                        None,
                    )
                }
                Term::Focus { lens, body } => {
                    let lens_value = self.bind("lens", quote_spanned!(lens.span()=> #lens));
                    self.checks.push(quote_spanned! {lens.span()=>
                        #wire::lens_fits((&&FitProbe(&#lens_value, #input)).fit());
                    });
                    let part = self.shadow(quote!((&&LensProbe(&#lens_value, #input)).target()));
                    let body_chain = body;
                    let (body, body_out) = self.chain(body, &path, false, &part);
                    self.agree(&body_out, &part, chain_span(body_chain));
                    output = input.clone();
                    (
                        quote_spanned!(lens.span()=> ::plan_runtime::nodes::focus(#lens_value, #body)),
                        "Focus",
                        "focus".into(),
                        None,
                    )
                }
                Term::Loop {
                    until,
                    pred,
                    max,
                    stop_at_limit,
                    body,
                } => {
                    let body_chain = body;
                    let (body, body_out) = self.chain(body, &path, false, input);
                    self.agree(&body_out, input, chain_span(body_chain));
                    output = input.clone();
                    let check = if *until {
                        quote!(::plan_runtime::nodes::Check::Until)
                    } else {
                        quote!(::plan_runtime::nodes::Check::While)
                    };
                    let on_limit = stop_at_limit
                        .then(|| quote!(.on_limit(::plan_runtime::nodes::OnLimit::Stop)));
                    (
                        quote_spanned!(span=> ::plan_runtime::nodes::repeat(#check, #pred, #max, #body)#on_limit),
                        "Loop",
                        "loop".into(),
                        None,
                    )
                }
            };
        let wrapped = item.wrappers.iter().rev().fold(core, |inner, wrapper| match wrapper {
            Wrapper::Timeout(after) => {
                let after = after.to_tokens();
                quote!(::plan_runtime::nodes::timeout(#after, #inner))
            }
            Wrapper::Retry { attempts, backoff } => {
                let backoff = backoff
                    .as_ref()
                    .map_or_else(|| quote!(::core::time::Duration::ZERO), |b| b.to_tokens());
                quote_spanned!(attempts.span()=> ::plan_runtime::nodes::retry(#attempts, #backoff, #inner))
            }
        });
        let name = item.name.as_ref().map_or(default_name, syn::LitStr::value);
        let info = self.info(&name, kind, &path, &item.source, policy, span);
        let tree = match kind {
            "Step" | "Blocking" => quote!(::plan_runtime::nodes::leaf(&#info, #wrapped)),
            _ => quote!(::plan_runtime::nodes::node(&#info, #wrapped)),
        };
        (tree, output)
    }
}

/// Where a chain's type mismatches are reported: its last item, whose output it is.
fn chain_span(chain: &Chain) -> Span {
    chain
        .items
        .last()
        .map_or_else(Span::call_site, |item| item.span)
}

/// How many steps one `let` binds: every `let` opens a scope nested in the previous one, and
/// rustc's debug info recurses once per level (one `let` per step overflowed its stack on a
/// 10,000-step chain).
const BINDINGS_PER_LET: usize = 12;

/// The most steps one `Seq` takes (the runtime implements tuples up to this size).
const SEQ_WIDTH: usize = 12;

/// A chain as `seq((a, b, c))`; longer than [`SEQ_WIDTH`], a balanced tree of `seq`s, so a
/// chain of `n` steps nests only `log12(n)` deep.
fn balanced(items: &[TokenStream]) -> TokenStream {
    match items {
        [] => TokenStream::new(),
        [one] => one.clone(),
        _ if items.len() <= SEQ_WIDTH => quote!(::plan_runtime::nodes::seq((#(#items,)*))),
        _ => {
            let groups = items.len().div_ceil(SEQ_WIDTH).min(SEQ_WIDTH);
            let size = items.len().div_ceil(groups);
            let parts = items.chunks(size).map(balanced);
            quote!(::plan_runtime::nodes::seq((#(#parts,)*)))
        }
    }
}

fn policy_tokens(policy: &Policy) -> TokenStream {
    match policy {
        Policy::All => quote!(::plan_runtime::policy::All),
        Policy::Settled => quote!(::plan_runtime::policy::Settled),
        Policy::First => quote!(::plan_runtime::policy::First),
        Policy::FirstCompleted => quote!(::plan_runtime::policy::FirstCompleted),
        Policy::NBest { n, by } => {
            quote_spanned!(by.span()=> ::plan_runtime::policy::n_best(#n, #by))
        }
        Policy::Best { by } => quote_spanned!(by.span()=> ::plan_runtime::policy::best(#by)),
    }
}

fn group_options(group: &Group) -> TokenStream {
    let timeout = group.timeout.as_ref().map(|after| {
        let after = after.to_tokens();
        quote!(.timeout(#after))
    });
    let limit = group.limit.as_ref().map(|limit| quote!(.limit(#limit)));
    quote!(#timeout #limit)
}
