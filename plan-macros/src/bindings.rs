//! A block of bindings — `let name = sources >> steps;` bindings, then an output — as a
//! plan's body or inside `seq { .. }`: a dependency graph in which every binding starts the
//! moment its own sources are ready.
//!
//! Names are checked here, while parsing: a source must be bound above the binding that reads
//! it (so the graph is acyclic by construction), a name is bound once, and every name is read
//! unless it starts with `_`. The expansion is a struct of the bindings' plans with a `Plan`
//! impl whose where-clauses type every edge (see `plan_runtime::__private::bindings`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Token, parenthesized, token};

use crate::MAX_ARITY;
use crate::attr::{self, Wrapper};
use crate::expander::{Agreement, Compare, Expander, Flow, Input, check_name, code};
use crate::item::{Chain, Term, child, parse_chain, wrap};
use crate::source::source_text;
use crate::suggest::did_you_mean;

/// The most bindings (with the output) whose futures a block holds inline; a larger block
/// boxes each binding's future while it runs.
const INLINE_BINDINGS: usize = 16;

pub struct Bindings {
    pub lets: Vec<Binding>,
    /// The block's last line: what it returns.
    pub output: Flowing,
}

/// `let name = #[attrs] sources >> steps;`
pub struct Binding {
    pub name: Name,
    /// `#[timeout]` and `#[retry]` after `=`: they apply to the whole binding.
    pub wrappers: Vec<Wrapper>,
    pub flowing: Flowing,
    /// Source text after `=`.
    pub source: String,
}

/// A binding's name: an identifier, or `_`.
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// What a binding (or the output) runs: its sources, then steps.
pub struct Flowing {
    /// The bindings read, in order (a name may repeat); none: the block's input.
    pub sources: Vec<Ident>,
    /// Written as a tuple, `(a, b)`: the steps get a tuple.
    pub tuple: bool,
    /// The steps; none only in an output that is just names.
    pub chain: Option<Chain>,
    /// The first token.
    pub span: Span,
}

impl Parse for Bindings {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut lets: Vec<Binding> = Vec::new();
        let mut last_semi = None;
        while input.peek(Token![let]) {
            let binding = parse_binding(input, &lets)?;
            lets.push(binding);
            last_semi = Some(input.parse::<Token![;]>()?.span);
        }
        if input.is_empty() {
            return Err(syn::Error::new(
                last_semi.unwrap_or_else(Span::call_site),
                "a block of bindings ends in its output, without `;`: a name (`app`), a tuple of names (`(app, docs)`), or steps fed by them (`(app, docs) >> package`)",
            ));
        }
        let output = Flowing::parse(input, &lets, true)?;
        if input.peek(Token![;]) {
            return Err(input.error(
                "remove this `;`: a block of bindings ends in its output, as a Rust block does",
            ));
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the block's output"));
        }
        let block = Bindings { lets, output };
        block.check_names()?;
        Ok(block)
    }
}

fn parse_binding(input: ParseStream, lets: &[Binding]) -> syn::Result<Binding> {
    input.parse::<Token![let]>()?;
    let name = if input.peek(Token![_]) {
        let underscore: Token![_] = input.parse()?;
        Name {
            text: "_".to_owned(),
            span: underscore.span,
        }
    } else {
        let ident = input.parse::<Ident>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a name after `let`: `let hits = query >> search;`",
            )
        })?;
        Name {
            text: ident.to_string(),
            span: ident.span(),
        }
    };
    if name.text != "_" && lets.iter().any(|b| b.name.text == name.text) {
        return Err(syn::Error::new(
            name.span,
            format!(
                "`{}` is already bound in this block: give this binding a name of its own",
                name.text
            ),
        ));
    }
    if !input.peek(Token![=]) {
        return Err(input.error(format!(
            "expected `=` after `let {}`: `let {} = source >> step;`",
            name.text, name.text
        )));
    }
    input.parse::<Token![=]>()?;
    let mut wrappers = Vec::new();
    let mut named = None;
    while input.peek(Token![#]) {
        attr::parse(input, &mut wrappers, &mut named)?;
    }
    if let Some(named) = named {
        return Err(syn::Error::new(
            named.span(),
            format!(
                "the binding is named `{}` by its `let`: put `#[name]` on a step inside it",
                name.text
            ),
        ));
    }
    let span = input.span();
    let start = input.cursor();
    let flowing = Flowing::parse(input, lets, false)?;
    let source = source_text(start, input.cursor(), span);
    if !input.peek(Token![;]) {
        return Err(input.error(format!(
            "expected `;` after the binding `let {} = ..`",
            name.text
        )));
    }
    Ok(Binding {
        name,
        wrappers,
        flowing,
        source,
    })
}

impl Flowing {
    fn parse(input: ParseStream, lets: &[Binding], output: bool) -> syn::Result<Self> {
        let span = input.span();
        let Some((sources, tuple)) = parse_sources(input, lets)? else {
            return Ok(Flowing {
                sources: Vec::new(),
                tuple: false,
                chain: Some(parse_chain(input)?),
                span,
            });
        };
        let chain = if input.peek(Token![>>]) {
            let arrow: Token![>>] = input.parse()?;
            if input.is_empty() || input.peek(Token![;]) {
                return Err(syn::Error::new(
                    arrow.span(),
                    "`>>` must be followed by a step",
                ));
            }
            Some(parse_chain(input)?)
        } else if output {
            None
        } else if input.peek(Token![;]) {
            return Err(syn::Error::new(
                span,
                "this binding only renames its sources: run steps on them, `source >> step`, or read the source itself where this name is read",
            ));
        } else {
            return Err(input.error("expected `>>` between the sources and the steps"));
        };
        Ok(Flowing {
            sources,
            tuple,
            chain,
            span,
        })
    }
}

/// Sources, if the binding starts with them: a name bound above, or a parenthesized list of
/// names (`(a, b)`; a single name in parentheses must be bound). Otherwise the binding's
/// steps take the block's input.
fn parse_sources(input: ParseStream, lets: &[Binding]) -> syn::Result<Option<(Vec<Ident>, bool)>> {
    let bound = |ident: &Ident| lets.iter().any(|b| *ident == b.name.text);
    let ends =
        |after: ParseStream| after.peek(Token![>>]) || after.peek(Token![;]) || after.is_empty();
    let fork = input.fork();
    // A bound name is a source unless it goes on as a path or a call (a step that happens to
    // share its name): `fetch(Engine::Web)`, `fetch::<T>`.
    if let Ok(ident) = fork.parse::<Ident>()
        && bound(&ident)
        && (ends(&fork)
            || !(fork.peek(token::Paren) || fork.peek(Token![::]) || fork.peek(Token![<])))
    {
        input.parse::<Ident>()?;
        return Ok(Some((vec![ident], false)));
    }
    if input.peek(token::Paren) {
        let fork = input.fork();
        let content;
        parenthesized!(content in fork);
        if let Ok(names) = Punctuated::<Ident, Token![,]>::parse_terminated(&content)
            && !names.is_empty()
            && (names.len() > 1 || names.trailing_punct() || names.iter().all(bound))
            && ends(&fork)
        {
            let content;
            parenthesized!(content in input);
            let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
            let tuple = names.len() > 1 || names.trailing_punct();
            return Ok(Some((names.into_iter().collect(), tuple)));
        }
    }
    Ok(None)
}

impl Bindings {
    /// Sources bound above their readers, each name bound once (checked while parsing), no
    /// binding read as a step, and every name read unless it starts with `_`.
    fn check_names(&self) -> syn::Result<()> {
        let names: Vec<&str> = self.lets.iter().map(|b| b.name.text.as_str()).collect();
        let flowings = self.lets.iter().map(|b| &b.flowing).chain([&self.output]);
        for (index, flowing) in flowings.enumerate() {
            if flowing.sources.len() > MAX_ARITY {
                return Err(syn::Error::new(
                    flowing.span,
                    format!(
                        "a binding reads at most {MAX_ARITY} sources (this one reads {}): gather some of them in a binding of their own, `let parts = (a, b, c) >> gather;`",
                        flowing.sources.len()
                    ),
                ));
            }
            for source in &flowing.sources {
                let text = source.to_string();
                match names.iter().position(|name| *name == text) {
                    Some(at) if at < index => {}
                    Some(at) if at == index => {
                        return Err(syn::Error::new(
                            source.span(),
                            format!(
                                "`{text}` is read in its own binding: a binding reads only bindings above it"
                            ),
                        ));
                    }
                    Some(_) => {
                        return Err(syn::Error::new(
                            source.span(),
                            format!(
                                "`{text}` is read before it is bound: move `let {text}` above this line"
                            ),
                        ));
                    }
                    None => {
                        let above: Vec<&str> = names[..index.min(names.len())]
                            .iter()
                            .copied()
                            .filter(|n| *n != "_")
                            .collect();
                        return Err(syn::Error::new(
                            source.span(),
                            format!(
                                "`{text}` is not bound in this block{}",
                                did_you_mean(&text, &above)
                            ),
                        ));
                    }
                }
            }
            if let Some(chain) = &flowing.chain {
                let mut steps = Vec::new();
                steps_of(chain, &mut steps);
                for (position, step) in steps {
                    let Some(text) = bare_name(step) else {
                        continue;
                    };
                    match names.iter().position(|name| *name == text) {
                        Some(at) if at < index => {
                            return Err(syn::Error::new(
                                step_span(step),
                                format!(
                                    "`{text}` is a binding, not a step: a binding reads its sources first, `{text} >> step` or `({text}, other) >> step`"
                                ),
                            ));
                        }
                        Some(at) if at > index && position == 0 && flowing.sources.is_empty() => {
                            return Err(syn::Error::new(
                                step_span(step),
                                format!(
                                    "`{text}` is read before it is bound: move `let {text}` above this line (or, if `{text}` is a step here, rename the binding)"
                                ),
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        for (index, binding) in self.lets.iter().enumerate() {
            if binding.name.text.starts_with('_') || self.uses(index) > 0 {
                continue;
            }
            let name = &binding.name.text;
            return Err(syn::Error::new(
                binding.name.span,
                format!(
                    "`{name}` is never read: read it in a later binding or the output, or name it `_{name}` to run it for its effects only"
                ),
            ));
        }
        Ok(())
    }

    /// How many times binding `index` is read (by later bindings and the output).
    fn uses(&self, index: usize) -> usize {
        let name = &self.lets[index].name.text;
        if name == "_" {
            return 0;
        }
        self.flowings()
            .flat_map(|f| &f.sources)
            .filter(|source| *source == name)
            .count()
    }

    /// The chains of the bindings and the output.
    pub fn chains(&self) -> impl Iterator<Item = &Chain> {
        self.flowings().filter_map(|f| f.chain.as_ref())
    }

    /// The bindings, then the output.
    fn flowings(&self) -> impl Iterator<Item = &Flowing> {
        self.lets.iter().map(|b| &b.flowing).chain([&self.output])
    }

    /// The index of the binding `source` names.
    fn index_of(&self, source: &Ident) -> usize {
        self.lets
            .iter()
            .position(|b| *source == b.name.text)
            .expect("sources are checked while parsing")
    }

    /// Expands the block: one `let` node per binding, then the output.
    pub fn expand(&self, x: &mut Expander, prefix: &str, input: Input) -> Flow {
        let count = self.lets.len() + 1;
        let uses: Vec<usize> = (0..self.lets.len()).map(|k| self.uses(k)).collect();
        let fed_by_input: Vec<usize> = self
            .flowings()
            .enumerate()
            .filter(|(_, f)| f.sources.is_empty())
            .map(|(k, _)| k)
            .collect();
        let mut outs: Vec<Ident> = Vec::with_capacity(count);
        let mut trees = Vec::with_capacity(count);
        let mut first_takes: Option<Ident> = None;
        for (index, binding) in self.lets.iter().enumerate() {
            let path = child(prefix, index);
            let feed = self.feed(x, &binding.flowing, &outs, &input, &binding.name.text);
            let chain = binding.flowing.chain.as_ref().expect("a binding has steps");
            let flow = chain.expand(x, &path, false, feed.clone());
            self.same_input(x, &input, &binding.flowing, &flow, &mut first_takes);
            let tree = wrap(
                x,
                &binding.wrappers,
                &binding.name.text,
                &feed.shadow,
                &flow,
                None,
            );
            let info = x.info(
                &binding.name.text,
                "Let",
                &path,
                &binding.source,
                None,
                binding.name.span,
            );
            if uses[index] > 1 {
                self.clone_check(x, binding, uses[index], &flow.out);
            }
            trees.push(quote!(::plan_runtime::nodes::node(&#info, #tree)));
            outs.push(flow.out);
        }
        let output_path = child(prefix, self.lets.len());
        let feed = self.feed(x, &self.output, &outs, &input, "");
        let (tree, out) = match &self.output.chain {
            Some(chain) => {
                let flow = chain.expand(x, &output_path, true, feed);
                self.same_input(x, &input, &self.output, &flow, &mut first_takes);
                (flow.tree, flow.out)
            }
            None => (
                quote!(::plan_runtime::__private::bindings::Output),
                feed.shadow,
            ),
        };
        trees.push(tree);
        let takes = first_takes.unwrap_or_else(|| x.unknown());
        if fed_by_input.len() > 1 {
            let state = x.either(&input.shadow, &takes);
            let second = fed_by_input[1];
            let span = self
                .lets
                .get(second)
                .map_or(self.output.span, |b| b.name.span);
            x.check(
                span,
                Compare::Holds("input_is_cloned_for_each_binding".to_owned()),
                quote!((&&&CloneProbe(#state)).check()),
                &format!(
                    "{} feeds {}, each but the last with a clone, but `{{Self}}` is not `Clone`",
                    input.from,
                    self.names_of(&fed_by_input)
                ),
                "`{Self}` is not `Clone`",
                "every binding without sources gets the block's input: add `#[derive(Clone)]` to `{Self}` (or share it in an `Arc`), or feed one binding and read it in the others",
            );
        }
        let tree = self.items(x, &trees, &uses, fed_by_input.len());
        Flow { tree, out, takes }
    }

    /// The bindings at `indices` (the block's output after the last), as a message lists
    /// them: "`let a`, `let b` and the block's output".
    fn names_of(&self, indices: &[usize]) -> String {
        let names: Vec<String> = indices
            .iter()
            .map(|&k| {
                self.lets.get(k).map_or_else(
                    || "the block's output".to_owned(),
                    |b| format!("`let {}`", b.name.text),
                )
            })
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    /// What flows into a binding: the block's input, one source, or a tuple of sources.
    fn feed(
        &self,
        x: &mut Expander,
        flowing: &Flowing,
        outs: &[Ident],
        input: &Input,
        name: &str,
    ) -> Input {
        if flowing.sources.is_empty() {
            return input.clone();
        }
        let shadows: Vec<&Ident> = flowing
            .sources
            .iter()
            .map(|s| &outs[self.index_of(s)])
            .collect();
        let written = if flowing.tuple {
            let names: Vec<String> = flowing.sources.iter().map(Ident::to_string).collect();
            format!("({})", names.join(", "))
        } else {
            flowing.sources[0].to_string()
        };
        let shadow = if flowing.tuple {
            x.shadow(quote!((&&TupleProbe((#(#shadows,)*))).all()))
        } else {
            shadows[0].clone()
        };
        let who = if name.is_empty() {
            "the block's output".to_owned()
        } else {
            format!("`let {name}`")
        };
        Input {
            shadow,
            from: code(&written),
            gives: format!("{who} is fed {}, which is `{{Self}}`", code(&written)),
            untracked: false,
        }
    }

    /// Bindings fed by the block's input take one type, when nothing before the block fixes it.
    fn same_input(
        &self,
        x: &mut Expander,
        input: &Input,
        flowing: &Flowing,
        flow: &Flow,
        first: &mut Option<Ident>,
    ) {
        if !flowing.sources.is_empty() {
            return;
        }
        let Some(expected) = first.clone() else {
            *first = Some(flow.takes.clone());
            return;
        };
        if !input.untracked {
            return;
        }
        let Some(chain) = &flowing.chain else { return };
        let Some(step) = chain.items.first() else {
            return;
        };
        let message = format!(
            "mismatched types in plan: {} takes `{{Self}}`, but the first binding fed by the plan's input takes `{{T}}`",
            code(&step.label())
        );
        x.agree(
            step.span,
            &flow.takes,
            &expected,
            Agreement {
                name: "takes_the_same_input",
                message: &message,
                label: "takes `{Self}`, not `{T}`",
                note: "every binding without sources gets the same input, the block's",
            },
        );
    }

    /// A name read several times must be `Clone`: every read but the last gets a clone.
    fn clone_check(&self, x: &mut Expander, binding: &Binding, uses: usize, out: &Ident) {
        let name = &binding.name.text;
        x.check(
            binding.name.span,
            Compare::Holds(check_name(name, "is_cloned_for_each_read")),
            quote!((&&&CloneProbe(#out)).check()),
            &format!(
                "`{name}` is read {}, and each read but the last gets a clone, but `{{Self}}` is not `Clone`",
                if uses == 2 { "twice".to_owned() } else { format!("{uses} times") }
            ),
            "`{Self}` is not `Clone`",
            &format!(
                "add `#[derive(Clone)]` to `{{Self}}` (or share it in an `Arc`), or read `{name}` once"
            ),
        );
    }

    /// The block's struct, its `Describe` and `Plan` impls and its dependencies, as items;
    /// returns the struct's value. `uses` counts the reads of each binding, `inputs` those of
    /// the block's input.
    fn items(
        &self,
        x: &mut Expander,
        trees: &[TokenStream],
        uses: &[usize],
        inputs: usize,
    ) -> TokenStream {
        let id = x.block_id();
        let site = Span::mixed_site();
        let ty = Ident::new(&format!("__PlanBindings{id}"), site);
        let deps = Ident::new(&format!("__PLAN_DEPENDENCIES_{id}"), site);
        let flow = quote!(::plan_runtime::__private::bindings);
        let count = trees.len();
        let bs: Vec<Ident> = (0..count)
            .map(|k| format_ident!("B{k}", span = site))
            .collect();
        let os: Vec<Ident> = (0..count)
            .map(|k| format_ident!("O{k}", span = site))
            .collect();
        let fields: Vec<syn::Index> = (0..count).map(syn::Index::from).collect();
        let [input, slots, cx, i, c] =
            ["input", "slots", "cx", "__I", "__C"].map(|name| Ident::new(name, site));
        let futures: Vec<Ident> = (0..count)
            .map(|k| format_ident!("binding{k}", span = site))
            .collect();
        // The output is read once, when the block is done.
        let uses: Vec<usize> = uses.iter().copied().chain([1]).collect();
        let read = |slot: TokenStream, uses: usize| {
            if uses > 1 {
                quote!(#flow::Share(&#slot))
            } else {
                quote!(#flow::Take(&#slot))
            }
        };
        // A large block keeps only its running bindings' futures, each on the heap.
        let storage = if count > INLINE_BINDINGS {
            quote!(#flow::Boxed)
        } else {
            quote!(#flow::Inline)
        };
        let mut sources = Vec::with_capacity(count);
        let mut bounds = Vec::with_capacity(count);
        let mut binds = Vec::with_capacity(count);
        for (k, flowing) in self.flowings().enumerate() {
            let indices: Vec<usize> = flowing.sources.iter().map(|s| self.index_of(s)).collect();
            let (takes, reader) = if indices.is_empty() {
                (quote!(#i), read(quote!(#input), inputs))
            } else {
                let types = indices.iter().map(|&s| &os[s]);
                let readers = indices.iter().map(|&s| {
                    let field = &fields[s];
                    read(quote!(#slots.#field), uses[s])
                });
                if flowing.tuple {
                    (quote!((#(#types,)*)), quote!((#(#readers,)*)))
                } else {
                    (quote!(#(#types)*), quote!(#(#readers)*))
                }
            };
            let (b, o, field) = (&bs[k], &os[k], &fields[k]);
            let clone = (uses[k] > 1).then(|| quote!(#o: ::core::clone::Clone,));
            bounds.push(quote!(#b: ::plan_runtime::Plan<#takes, #c, Out = #o>, #o: ::core::marker::Send, #clone));
            binds.push(quote!(#flow::bind::<#storage, _, _, _, _, _>(<#b as ::plan_runtime::Plan<#takes, #c>>::call, &self.#field, #reader, &#slots.#field, #cx)));
            let mut from = indices;
            from.sort_unstable();
            from.dedup();
            sources.push(from);
        }
        let consumers = (0..count).map(|k| {
            let readers = (0..count).filter(|&j| sources[j].contains(&k));
            quote!(&[#(#readers),*])
        });
        let sources = sources.iter().map(|s| quote!(&[#(#s),*]));
        let input_clone = (inputs > 1).then(|| quote!(#i: ::core::clone::Clone,));
        let (last, last_field) = (&os[count - 1], &fields[count - 1]);
        x.item(quote! {
            #[derive(Clone, Debug)]
            struct #ty<#(#bs),*>(#(#bs),*);

            static #deps: #flow::Dependencies = #flow::Dependencies::new(&[#(#sources),*], &[#(#consumers),*]);

            impl<#(#bs: ::plan_runtime::Describe),*> ::plan_runtime::Describe for #ty<#(#bs),*> {
                fn describe(&self, graph: &mut ::plan_runtime::GraphBuilder, preds: &[usize]) -> ::std::vec::Vec<usize> {
                    let bindings: [&dyn ::plan_runtime::Describe; #count] = [#(&self.#fields),*];
                    #flow::describe(&bindings, &#deps, graph, preds)
                }
            }

            impl<#i, #c, #(#bs, #os),*> ::plan_runtime::Plan<#i, #c> for #ty<#(#bs),*>
            where
                #i: ::core::marker::Send,
                #input_clone
                #c: ::core::marker::Sync,
                #(#bounds)*
            {
                type Out = #last;

                async fn call(&self, #input: #i, #cx: ::plan_runtime::Cx<'_, #c>) -> ::core::result::Result<#last, ::plan_runtime::PlanError> {
                    let #input = #flow::Slot::with(#input, #inputs);
                    let #slots: (#(#flow::Slot<#os>,)*) = (#(#flow::Slot::new(#uses),)*);
                    {
                        #(let #futures = ::core::pin::pin!(#binds);)*
                        let bindings: [#flow::Binding<'_>; #count] = [#(#futures),*];
                        #flow::run(&#deps, bindings).await?;
                    }
                    ::core::result::Result::Ok(#slots.#last_field.take())
                }
            }
        });
        quote!(#ty(#(#trees),*))
    }
}

/// Every step in `chain`, at any depth, with its position in `chain` (0 for the first item;
/// steps inside constructs count as later).
fn steps_of<'c>(chain: &'c Chain, steps: &mut Vec<(usize, &'c Expr)>) {
    for (position, item) in chain.items.iter().enumerate() {
        match &item.term {
            Term::Step(step) => steps.push((position, &step.expr)),
            term => {
                for inner in term.chains() {
                    let mut nested = Vec::new();
                    steps_of(inner, &mut nested);
                    steps.extend(nested.into_iter().map(|(_, step)| (usize::MAX, step)));
                }
            }
        }
    }
}

/// A step written as a bare name (`fetch`), which a binding's name could shadow.
fn bare_name(step: &Expr) -> Option<String> {
    match step {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident().map(Ident::to_string),
        _ => None,
    }
}

fn step_span(step: &Expr) -> Span {
    step.span()
}
