//! The state of one expansion: node identities, step bindings, and the wiring shadow.
//!
//! A plan expands to, in order: one `NodeInfo` constant per node (a line each), one binding
//! per step (evaluated once, when the plan is built), the tree of `plan_runtime::nodes` calls,
//! and then the *shadow*: a block under `if false` that rustc type-checks and never runs,
//! which sees the steps through zero-sized type markers. The shadow
//! tracks the type of the data between items (see `plan_runtime::wiring`) and holds one
//! check per place where two types must agree. A check is a `let` whose type is well formed
//! only if the check holds, spanned on the user's token; a failed check leaves the plan
//! without a type, so nothing else is reported.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use crate::item::Chain;
use crate::source::escape;

/// What flows into an item: the shadow of its data, and who produced it (for messages).
#[derive(Clone)]
pub struct Input {
    pub shadow: Ident,
    /// The producer, as a message names it: "`parse`", "the lens `Doc::title`".
    pub from: String,
    /// What the producer gives, as a message says it, with `{Self}` for its type:
    /// "`parse` gives `{Self}`".
    pub gives: String,
    /// The data is the plan's own input, whose type nothing fixes but the items that take
    /// it: there is nothing to check it against.
    pub untracked: bool,
}

impl Input {
    /// The data, as a message names it: "the plan's input", "what `parse` gives".
    pub fn what(&self) -> String {
        if self.untracked {
            self.from.clone()
        } else {
            format!("what {} gives", self.from)
        }
    }

    /// The output of the item that `from` names.
    pub fn from_item(shadow: Ident, from: String) -> Self {
        let gives = format!("{from} gives `{{Self}}`");
        Input {
            shadow,
            from,
            gives,
            untracked: false,
        }
    }
}

/// What an item expanded to.
pub struct Flow {
    /// The combinator tree.
    pub tree: TokenStream,
    /// The shadow of its output.
    pub out: Ident,
    /// The shadow of what it takes, when its own first step says so (else `Unknown`).
    pub takes: Ident,
}

pub struct Expander {
    infos: Vec<TokenStream>,
    /// Items a construct declares (a block of bindings' struct and impls).
    items: Vec<TokenStream>,
    blocks: usize,
    steps: Vec<(Ident, TokenStream)>,
    /// The type marker of each bound value, for the shadow (which runs after the plan owns
    /// the values).
    markers: Vec<(Ident, TokenStream)>,
    /// The context fold: one line per function step.
    contexts: Vec<TokenStream>,
    /// The context so far in the fold; [`Expander::context`] is the plan's, once folded.
    context: Ident,
    checks: Vec<TokenStream>,
    proofs: Vec<Ident>,
    names: usize,
    /// `#![durable]`: every step is durable.
    pub durable_steps: bool,
}

/// The local trait a named check is written with, and its name. The name is what rustc's
/// help line shows ("the trait `merge_takes<Hits>` is not implemented for `Query`"), so it
/// says what the check is about.
pub enum Compare {
    /// Two types must be the same: `Found: name<Expected>`.
    SameType(String),
    /// A type must have a property (`Clone`, journaled as JSON): the pair is `(T, ())`, and
    /// `T: name` fails for any `T` the probe found not to have it.
    Holds(String),
    /// A value the plan holds (a condition, score, router, lens) must fit the data it reads:
    /// the pair is `(F, T)` when the probe found that `F` does not fit `T`, and `F: name<T>`
    /// fails; it is `(Fine, ())` when it fits.
    Fits(String),
}

impl Expander {
    pub fn new() -> Self {
        let start = Ident::new("__plan_ctx_0", Span::mixed_site());
        Expander {
            infos: Vec::new(),
            items: Vec::new(),
            blocks: 0,
            steps: Vec::new(),
            markers: Vec::new(),
            contexts: vec![quote!(let #start = ::plan_runtime::wiring::no_ctx();)],
            context: start,
            checks: Vec::new(),
            proofs: Vec::new(),
            names: 0,
            durable_steps: false,
        }
    }

    pub fn fresh(&mut self, prefix: &str) -> Ident {
        self.names += 1;
        Ident::new(
            &format!("__plan_{prefix}_{}", self.names),
            Span::mixed_site(),
        )
    }

    /// Declares items in the plan's block.
    pub fn item(&mut self, item: TokenStream) {
        self.items.push(item);
    }

    /// A number for the next block of bindings, unique in this plan.
    pub fn block_id(&mut self) -> usize {
        self.blocks += 1;
        self.blocks
    }

    /// Binds a shadow value in the shadow program.
    pub fn shadow(&mut self, value: TokenStream) -> Ident {
        let ident = self.fresh("shadow");
        self.checks.push(quote!(let #ident = #value;));
        ident
    }

    /// The shadow `Unknown`.
    pub fn unknown(&mut self) -> Ident {
        self.shadow(quote!(::plan_runtime::wiring::Unknown))
    }

    /// What flows in if it is known, else what the item takes.
    pub fn either(&mut self, input: &Ident, takes: &Ident) -> Ident {
        self.shadow(quote!((&&EitherProbe(#input, #takes)).either()))
    }

    /// Binds a value (a step, lens, predicate …), evaluated once when the plan is built.
    /// Returns its name and the name of its type marker in the shadow.
    pub fn bind(&mut self, prefix: &str, value: TokenStream) -> (Ident, Ident) {
        let ident = self.fresh(prefix);
        let marker = self.fresh("ty");
        self.steps.push((ident.clone(), value));
        self.markers
            .push((marker.clone(), quote!(::plan_runtime::wiring::ty(&#ident))));
        (ident, marker)
    }

    /// Declares a node's `NodeInfo` constant, on one line, and returns its name.
    pub fn info(
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
        let source = (source != name).then(|| quote!(.source(#source)));
        let policy = policy.map(|policy| quote!(.policy(#policy)));
        let start = span.start();
        let line = Literal::usize_unsuffixed(start.line);
        let column = Literal::usize_unsuffixed(start.column + 1);
        let (info, kinds) = (info_type(), kind_type());
        self.infos.push(quote! {
            const #ident: #info = #info::new(#name, #kinds::#kind, #path)#source #policy.at(::core::file!(), #line, #column);
        });
        ident
    }

    /// Adds the context of the function step written `source` to the plan's, checking (at
    /// `span`) that it agrees with the contexts of earlier steps.
    pub fn context_of(&mut self, step: &Ident, source: &str, span: Span) {
        // `step` is the step's type marker.
        let before = self.context.clone();
        let pair = self.fresh("pair");
        let after = self.fresh("ctx");
        self.contexts.push(quote! {
            let (#pair, #after) = ::plan_runtime::wiring::join_ctx(#before, (&&CtxProbe(#step)).ctx());
        });
        let name = code(source);
        let check = self.named_check(
            span,
            Compare::SameType(check_name(source, "takes_the_plan_context")),
            quote!(#pair),
            &format!("{name} takes a context `&{{Self}}`, but an earlier step of the plan takes `&{{T}}`"),
            "takes `&{Self}`, not `&{T}`",
            "every step of a plan gets the one context a run is given (`plan.run(input).ctx(&ctx)`): put what both steps need into one struct and take `&` of it in both",
        );
        self.contexts.push(check);
        self.context = after;
    }

    /// The shadow of the plan's context, for nested plans.
    pub fn context(&self) -> Ident {
        Ident::new("__plan_ctx", Span::mixed_site())
    }

    /// A check with a message of its own (naming the user's steps), reported at `span` when
    /// `pair`'s two types do not compare as `compare` says. In `message`, `label` and
    /// `note`, `{Self}` is the first type of the pair and `{T}` the second.
    pub fn check(
        &mut self,
        span: Span,
        compare: Compare,
        pair: TokenStream,
        message: &str,
        label: &str,
        note: &str,
    ) {
        let check = self.named_check(span, compare, pair, message, label, note);
        self.checks.push(check);
    }

    /// The `let` of a [`Expander::check`], its proof joined to the plan's.
    fn named_check(
        &mut self,
        span: Span,
        compare: Compare,
        pair: TokenStream,
        message: &str,
        label: &str,
        note: &str,
    ) -> TokenStream {
        let proof = self.fresh("proof");
        let wire = quote!(::plan_runtime::wiring);
        // The user's span, not a mixed-site one: an error on it is then reported as the user's
        // own code, without a note that it originates in `plan!`. (Only this block sees it.)
        let alias = Ident::new("PlanWiring", span);
        let (message, label, note) = (message.to_owned(), label.to_owned(), note.to_owned());
        let check = match compare {
            Compare::SameType(name) => {
                let name = Ident::new(&name, Span::mixed_site());
                quote! {
                    #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
                    #[allow(non_camel_case_types)]
                    trait #name<T> { type Ok; }
                    #[diagnostic::do_not_recommend]
                    impl<T> #name<T> for T { type Ok = #wire::Wired; }
                    #[diagnostic::do_not_recommend]
                    impl #name<()> for #wire::Never { type Ok = #wire::Wired; }
                    type #alias<A, B> = (#wire::Pair<A, B>, <A as #name<B>>::Ok);
                }
            }
            Compare::Fits(name) => {
                let name = Ident::new(&name, Span::mixed_site());
                quote! {
                    #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
                    #[allow(non_camel_case_types)]
                    trait #name<T> { type Ok; }
                    #[diagnostic::do_not_recommend]
                    impl<T> #name<T> for #wire::Fine { type Ok = #wire::Wired; }
                    type #alias<A, B> = (#wire::Pair<A, B>, <A as #name<B>>::Ok);
                }
            }
            Compare::Holds(name) => {
                let name = Ident::new(&name, Span::mixed_site());
                quote! {
                    #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
                    #[allow(non_camel_case_types)]
                    trait #name { type Ok; }
                    #[diagnostic::do_not_recommend]
                    impl #name for #wire::Fine { type Ok = #wire::Wired; }
                    type #alias<A, B> = (#wire::Pair<A, B>, <A as #name>::Ok);
                }
            }
        };
        let annotation = quote_spanned!(span=> #alias<_, _>);
        self.proofs.push(proof.clone());
        quote! {
            let #proof = {
                #check
                let (_, ok): #annotation = (#pair, #wire::assume());
                ok
            };
        }
    }

    /// Checks that the data `found` (produced by `what`) has the type of `expected`.
    pub fn agree(&mut self, span: Span, found: &Ident, expected: &Ident, text: Agreement<'_>) {
        let Agreement {
            name,
            message,
            label,
            note,
        } = text;
        self.check(
            span,
            Compare::SameType(name.to_owned()),
            quote!((&&SameProbe(#found, #expected)).pair()),
            message,
            label,
            note,
        );
    }

    /// Checks that every branch (arm) of a construct after the first takes what the first one
    /// does, when nothing before the construct fixes its input (it opens the plan).
    pub fn same_inputs(&mut self, input: &Input, branches: &[&Chain], flows: &[Flow], what: &str) {
        if !input.untracked {
            return;
        }
        let Some(opening) = branches.first().and_then(|branch| branch.items.first()) else {
            return;
        };
        let opening = code(&opening.label());
        for (branch, flow) in branches.iter().zip(flows).skip(1) {
            let Some(first) = branch.items.first() else {
                continue;
            };
            let label = first.label();
            let message = format!(
                "mismatched types in plan: {} takes `{{Self}}`, but the first {what} ({opening}) takes `{{T}}`",
                code(&label)
            );
            self.agree(
                first.span,
                &flow.takes,
                &flows[0].takes,
                Agreement {
                    name: &check_name(&label, "takes_the_same_input"),
                    message: &message,
                    label: "takes `{Self}`, not `{T}`",
                    note: "every branch of a `par` and every arm of a `choose` gets the same input",
                },
            );
        }
    }

    /// The whole expansion: constants, bindings, the plan, then its shadow.
    pub fn finish(self, root: &Ident, flow: Flow) -> TokenStream {
        let Flow { tree, out, takes } = flow;
        let context = self.context();
        let Expander {
            infos,
            items,
            steps,
            markers,
            contexts,
            context: last_context,
            checks,
            proofs,
            ..
        } = self;
        let steps = lets(&steps);
        let markers = lets(&markers);
        let wiring = Ident::new("__plan_wiring", Span::mixed_site());
        let plan = Ident::new("__plan", Span::mixed_site());
        let proof = Ident::new("__plan_proof", Span::mixed_site());
        let (info, kinds) = (info_type(), kind_type());
        let joins = proofs
            .iter()
            .map(|p| quote!(let #proof = ::plan_runtime::wiring::and(#proof, #p);));
        quote! {
            {
                use ::plan_runtime::{NodeInfo as #info, NodeKind as #kinds};
                #(#infos)*
                #(#items)*
                #(#steps)*
                #(#markers)*
                let #plan = ::plan_runtime::nodes::root(&#root, #tree);
                // The wiring checks: type-checked, never run.
                #[allow(unused_variables, unused_imports, dead_code, non_camel_case_types, clippy::all)]
                let #wiring = if false {
                    use ::plan_runtime::wiring::probes::*;
                    #(#contexts)*
                    let #context = #last_context;
                    #(#checks)*
                    let #proof = ::plan_runtime::wiring::wired();
                    #(#joins)*
                    (#proof, (#context, (#takes, #out)))
                } else {
                    ::plan_runtime::wiring::assume()
                };
                ::plan_runtime::wiring::finish(#wiring, #plan)
            }
        }
    }
}

/// `NodeInfo`, as the expansion imports it (short, so that a node's constant is one line).
fn info_type() -> Ident {
    Ident::new("__PlanNodeInfo", Span::mixed_site())
}

/// `NodeKind`, as the expansion imports it.
fn kind_type() -> Ident {
    Ident::new("__PlanNodeKind", Span::mixed_site())
}

/// The texts of an [`Expander::agree`] check.
pub struct Agreement<'a> {
    /// The check's trait name (see [`Compare`]).
    pub name: &'a str,
    pub message: &'a str,
    pub label: &'a str,
    pub note: &'a str,
}

/// `let`s binding `names` to `values`, a dozen to a `let`.
fn lets(bindings: &[(Ident, TokenStream)]) -> Vec<TokenStream> {
    bindings
        .chunks(BINDINGS_PER_LET)
        .map(|chunk| match chunk {
            [(name, value)] => quote!(let #name = #value;),
            _ => {
                let (names, values): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
                quote!(let (#(#names,)*) = (#(#values,)*);)
            }
        })
        .collect()
}

/// How many steps one `let` binds: every `let` opens a scope nested in the previous one, and
/// rustc's debug info recurses once per level (one `let` per step overflowed its stack on a
/// 10,000-step chain).
const BINDINGS_PER_LET: usize = 12;

/// A name for a check about the step written `source`: its identifier (see [`ident_of`]), or
/// `step` for a closure, then `suffix`.
pub fn check_name(source: &str, suffix: &str) -> String {
    format!("{}_{suffix}", ident_of(source).unwrap_or("step"))
}

/// The last identifier of the path that `source` starts with (`search` for
/// `tools::search(Engine::Web)`, `client` for `(client.clone())`), if it starts with one (a
/// closure does not).
pub fn ident_of(source: &str) -> Option<&str> {
    let head = source
        .trim_start_matches('(')
        .split(['(', ')', '<', ' ', '|', '{', '.'])
        .next()
        .unwrap_or_default();
    let ident = head.rsplit("::").next().unwrap_or_default();
    let ident = ident.trim_start_matches("r#");
    let valid = !ident.is_empty()
        && ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !ident.starts_with(|c: char| c.is_ascii_digit());
    valid.then_some(ident)
}

/// `text` quoted as code in a message: "`parse`".
pub fn code(text: &str) -> String {
    format!("`{}`", escape(text))
}
