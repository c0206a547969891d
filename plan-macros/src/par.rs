//! `par(POLICY, opts) { branch, .. }`: branches run concurrently on clones of the input.

use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Token, braced, parenthesized, token};

use crate::MAX_ARITY;
use crate::expander::{Agreement, Compare, Expander, Flow, Input, code};
use crate::group::{Group, Policy};
use crate::item::{Chain, Expanded, Site, child, parse_chain};
use crate::keyword as kw;

pub struct Par {
    pub group: Group,
    pub branches: Vec<Chain>,
}

impl Parse for Par {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let keyword: kw::par = input.parse()?;
        let group = if input.peek(token::Paren) {
            let args;
            parenthesized!(args in input);
            Group::parse(&args, "par")?
        } else {
            Group::all()
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
        if branches.len() > MAX_ARITY {
            return Err(syn::Error::new(
                keyword.span,
                format!(
                    "`par` takes at most {MAX_ARITY} branches (this one has {}): nest groups, or fan one step out over data with `each`",
                    branches.len()
                ),
            ));
        }
        if let Policy::Quorum { k: written, .. } = &group.policy
            && let Some(k) = literal(written)
            && k > branches.len() as u128
        {
            return Err(syn::Error::new(
                written.span(),
                format!(
                    "`quorum({k})` needs {k} agreeing branches, but this `par` has {}: ask for at most {}, or add branches",
                    branches.len(),
                    branches.len()
                ),
            ));
        }
        Ok(Par { group, branches })
    }
}

/// An integer literal's value.
fn literal(expr: &Expr) -> Option<u128> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse().ok(),
        _ => None,
    }
}

impl Par {
    pub fn expand(&self, x: &mut Expander, site: &Site<'_>, input: Input) -> Expanded {
        let flows: Vec<Flow> = self
            .branches
            .iter()
            .enumerate()
            .map(|(index, branch)| branch.expand(x, &child(site.path, index), true, input.clone()))
            .collect();
        let branches: Vec<&Chain> = self.branches.iter().collect();
        x.same_inputs(&input, &branches, &flows, "branch");
        let label = code(&format!("par({})", self.group.written));
        let state = x.either(&input.shadow, &flows[0].takes);
        x.check(
            site.span,
            Compare::Holds("par_clones_its_input_for_each_branch".to_owned()),
            quote!((&&&CloneProbe(#state)).check()),
            &format!(
                "{label} gives each branch a clone of {}, but `{{Self}}` is not `Clone`",
                input.what()
            ),
            "`{Self}` is not `Clone`",
            "every branch gets its own clone of the input: add `#[derive(Clone)]` to `{Self}` (or share it in an `Arc`)",
        );
        let outs: Vec<_> = flows.iter().map(|flow| flow.out.clone()).collect();
        if self.group.is_uniform() {
            for (out, branch) in outs.iter().zip(&self.branches).skip(1) {
                let message = format!(
                    "mismatched types in plan: the branches of {label} give one type, but {} gives `{{Self}}` and the first branch ({}) gives `{{T}}`",
                    branch.last_label(),
                    self.branches[0].last_label()
                );
                x.agree(
                    branch.span(),
                    out,
                    &outs[0],
                    Agreement {
                        name: "par_branches_give_one_type",
                        message: &message,
                        label: "gives `{Self}`, not `{T}`",
                        note: "`first`, `first_completed`, `n_best` and `best` return branches' outputs as one value, so every branch produces the same type",
                    },
                );
            }
        }
        let first = &outs[0];
        let out = match self.group.policy {
            Policy::All => x.shadow(quote!((&&TupleProbe((#(#outs,)*))).all())),
            Policy::Settled => x.shadow(quote!((&&TupleProbe((#(#outs,)*))).settled())),
            Policy::NBest { .. } => x.shadow(quote!(::plan_runtime::wiring::vec_of(#first))),
            Policy::Quorum { .. } => x.shadow(quote!(::plan_runtime::wiring::quorum_of(#first))),
            Policy::First | Policy::FirstCompleted | Policy::Best { .. } => first.clone(),
        };
        let policy = self.group.policy_tokens(x, first);
        let options = self.group.options();
        let branches = flows.iter().map(|flow| &flow.tree);
        Expanded {
            flow: Flow {
                tree: quote_spanned!(site.span=> ::plan_runtime::nodes::par(#policy, (#(#branches,)*))#options),
                out,
                takes: state,
            },
            kind: "Par",
            default_name: "par".into(),
            policy: Some(self.group.written.clone()),
        }
    }
}
