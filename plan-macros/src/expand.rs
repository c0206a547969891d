//! Expanding a parsed plan into calls of `plan_runtime::nodes`: one `NodeInfo` constant per
//! node, then the combinator tree.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use crate::ast::{Chain, Group, Item, PlanBody, Policy, Term, Wrapper};

/// Expands a whole plan.
pub fn expand(body: &PlanBody) -> TokenStream {
    let mut expander = Expander::default();
    let name = body
        .name
        .as_ref()
        .map_or_else(|| "plan".to_owned(), syn::LitStr::value);
    let root = expander.info(&name, "Plan", "", "plan! { .. }", None, Span::call_site());
    let tree = expander.chain(&body.chain, "", false);
    let infos = &expander.infos;
    quote! {
        {
            #(#infos)*
            ::plan_runtime::nodes::node(&#root, #tree)
        }
    }
}

#[derive(Default)]
struct Expander {
    infos: Vec<TokenStream>,
}

fn child(prefix: &str, index: usize) -> String {
    if prefix.is_empty() {
        index.to_string()
    } else {
        format!("{prefix}/{index}")
    }
}

impl Expander {
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
    fn chain(&mut self, chain: &Chain, prefix: &str, collapse: bool) -> TokenStream {
        let items: Vec<TokenStream> = if collapse && chain.items.len() == 1 {
            vec![self.item(&chain.items[0], prefix.to_owned())]
        } else {
            chain
                .items
                .iter()
                .enumerate()
                .map(|(index, item)| self.item(item, child(prefix, index)))
                .collect()
        };
        balanced(&items)
    }

    fn item(&mut self, item: &Item, path: String) -> TokenStream {
        let span = item.span;
        let (core, kind, default_name, policy): (TokenStream, &str, String, Option<&str>) =
            match &item.term {
                Term::Step(expr) => (
                    quote_spanned!(expr.span()=> ::plan_runtime::step!(#expr)),
                    "Step",
                    item.source.clone(),
                    None,
                ),
                Term::Blocking(f) => (
                    quote_spanned!(f.span()=> ::plan_runtime::blocking!(#f)),
                    "Blocking",
                    item.source.clone(),
                    None,
                ),
                Term::Seq(chain) => (self.chain(chain, &path, false), "Seq", "seq".into(), None),
                Term::Par { group, branches } => {
                    let branches: Vec<TokenStream> = branches
                        .iter()
                        .enumerate()
                        .map(|(index, branch)| self.chain(branch, &child(&path, index), true))
                        .collect();
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
                    let body = self.chain(body, &path, false);
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
                    let mut tree = {
                        let otherwise = self.chain(otherwise, &child(&path, arms.len()), true);
                        quote!(::plan_runtime::nodes::arm("else", #otherwise))
                    };
                    let arms: Vec<_> = arms
                        .iter()
                        .enumerate()
                        .map(|(index, (cond, label, body))| {
                            (cond, label, self.chain(body, &child(&path, index), true))
                        })
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
                    let bodies: Vec<_> = arms
                        .iter()
                        .enumerate()
                        .map(|(index, arm)| {
                            let label = &arm.label;
                            let body = self.chain(&arm.body, &child(&path, index), true);
                            quote!(::plan_runtime::nodes::arm(#label, #body))
                        })
                        .collect();
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
                    let body = self.chain(body, &path, false);
                    (
                        quote_spanned!(lens.span()=> ::plan_runtime::nodes::focus(#lens, #body)),
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
                    let body = self.chain(body, &path, false);
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
        let name = item
            .name
            .as_ref()
            .map_or(default_name, syn::LitStr::value);
        let info = self.info(&name, kind, &path, &item.source, policy, span);
        match kind {
            "Step" | "Blocking" => quote!(::plan_runtime::nodes::leaf(&#info, #wrapped)),
            _ => quote!(::plan_runtime::nodes::node(&#info, #wrapped)),
        }
    }
}

/// `a >> b >> c >> d` as `seq(seq(a, b), seq(c, d))`.
fn balanced(items: &[TokenStream]) -> TokenStream {
    match items {
        [] => TokenStream::new(),
        [one] => one.clone(),
        _ => {
            let (left, right) = items.split_at(items.len() / 2);
            let (left, right) = (balanced(left), balanced(right));
            quote!(::plan_runtime::nodes::seq(#left, #right))
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
