//! A whole `plan! { .. }`: optional `#![name = ".."]` and `#![durable]`, then a chain.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

use crate::expander::{Expander, Input};
use crate::item::Body;
use crate::keyword as kw;
use crate::parse::expect_end;

pub struct PlanBody {
    /// `#![name = ".."]`, naming the plan's root.
    pub name: Option<LitStr>,
    /// `#![durable]`: every step of the plan is durable.
    pub durable: Option<Span>,
    pub body: Body,
}

impl Parse for PlanBody {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut name = None;
        let mut durable = None;
        while input.peek(Token![#]) && input.peek2(Token![!]) {
            input.parse::<Token![#]>()?;
            input.parse::<Token![!]>()?;
            let content;
            syn::bracketed!(content in input);
            if content.peek(kw::durable) {
                let key: kw::durable = content.parse()?;
                if durable.replace(key.span).is_some() {
                    return Err(syn::Error::new(key.span, "a plan has one `#![durable]`"));
                }
                expect_end(&content, "after `#![durable]`: it takes no arguments")?;
                continue;
            }
            let key = content.parse::<kw::name>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "the inner attributes of a plan are `#![name = \"..\"]` and `#![durable]`",
                )
            })?;
            content.parse::<Token![=]>()?;
            if name.replace(content.parse::<LitStr>()?).is_some() {
                return Err(syn::Error::new(key.span, "a plan has one `#![name]`"));
            }
            expect_end(&content, "after the plan's name")?;
        }
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "empty plan: write at least one step, e.g. `plan! { parse >> fetch }`",
            ));
        }
        let body = Body::parse(input)?;
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens: join steps with `>>`, separate `par` branches with `,` inside `par { .. }`",
            ));
        }
        Ok(PlanBody {
            name,
            durable,
            body,
        })
    }
}

impl PlanBody {
    /// The whole expansion.
    pub fn expand(&self) -> TokenStream {
        let mut x = Expander::new();
        x.durable_steps = self.durable.is_some();
        let name = self
            .name
            .as_ref()
            .map_or_else(|| "plan".to_owned(), LitStr::value);
        let root = x.info(&name, "Plan", "", "plan! { .. }", None, Span::call_site());
        let input = x.shadow(quote::quote!(::plan_runtime::wiring::input()));
        let input = Input {
            shadow: input,
            from: "the plan's input".to_owned(),
            gives: "the plan's input is `{Self}`".to_owned(),
            untracked: true,
        };
        let flow = self.body.expand(&mut x, "", input);
        x.finish(&root, flow)
    }
}
