//! Steps: a function path, a call evaluated when the plan is built, `(expr)`, or
//! `blocking(f)`.

use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, ExprPath, Ident, Token, parenthesized, token};

use crate::expander::{Compare, Expander, Flow, Input, check_name, code};
use crate::item::Expanded;
use crate::keyword as kw;
use crate::parse::{expect_end, expr, trailing_comma};

/// A step: a path, a call, or `(expr)`.
pub struct Step {
    pub expr: Expr,
}

/// `blocking(f)`.
pub struct Blocking {
    pub f: Expr,
}

impl Parse for Step {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            if content.is_empty() {
                return Err(syn::Error::new(
                    paren.span.join(),
                    "expected a step inside `( )`",
                ));
            }
            let expr = expr(&content)?;
            expect_end(&content, "in this parenthesized step")?;
            return Ok(Step { expr });
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
            if input.peek(Token![if]) || input.peek(Token![else]) || input.peek(Token![while]) {
                return Err(
                    input.error("`if`/`else`/`while` go inside `choose { .. }` and `loop(..)`")
                );
            }
            return Err(input.error("expected a step: a function path (`parse`, `tools::search`), a call (`search(Engine::Web)`), `(expr)`, or a construct (`par`, `each`, `choose`, `focus`, `loop`, `seq`, `blocking`)"));
        }
        let path: ExprPath = input.parse()?;
        if input.peek(token::Paren) {
            let args;
            let paren = parenthesized!(args in input);
            let args = Punctuated::<Expr, Token![,]>::parse_terminated(&args)?;
            return Ok(Step {
                expr: Expr::Call(ExprCall {
                    attrs: Vec::new(),
                    func: Box::new(Expr::Path(path)),
                    paren_token: paren,
                    args,
                }),
            });
        }
        if input.peek(Token![.]) {
            return Err(input.error("a method or field cannot be a step directly: wrap it in a closure, `(|q: Query| client.search(q))`, or an expression in parentheses"));
        }
        Ok(Step {
            expr: Expr::Path(path),
        })
    }
}

impl Step {
    /// Binds the step; checks what flows into it and the context it takes.
    pub fn expand(&self, x: &mut Expander, source: &str, input: Input) -> Expanded {
        let expr = &self.expr;
        let span = expr.span();
        let (step, ty) = x.bind("step", quote_spanned!(span=> ::plan_runtime::step!(#expr)));
        let name = code(source);
        x.check(
            span,
            Compare::Holds(check_name(source, "is_a_step")),
            quote!((&&StepProbe(#ty)).check()),
            &format!("{name} is not a step: `{{Self}}` is neither a function nor a plan"),
            "not a function or a plan",
            "a step is a function (sync or async, `fn(I) -> O` or `fn(I) -> Result<O, E>`, with a second parameter `&Ctx` if it needs a context), a closure in parentheses, or a plan; to give a step a value, capture it: `(|q: Query| search(q, &settings))`",
        );
        x.context_of(&ty, source, span);
        let (from, gives) = (&input.from, &input.gives);
        let given = &input.shadow;
        let takes = x.shadow(quote!((&&InProbe(#ty)).input()));
        if !input.untracked {
            x.check(
            span,
            Compare::SameType(check_name(source, "takes")),
            quote!((&&SameProbe(#given, #takes)).pair()),
            &format!("mismatched types in plan: {name} takes `{{T}}`, but {gives}"),
            &format!("{name} takes `{{T}}`, not `{{Self}}`"),
            &format!("change what {from} returns or what {name} takes, or put a step from `{{Self}}` to `{{T}}` between them"),
            );
        }
        leaf(x, "Step", source, (&step, &ty), given, takes)
    }
}

/// A leaf's expansion: the bound value is the tree; its output is what the shadow finds for
/// it given `given` (a function's return type, a nested plan's output).
fn leaf(
    x: &mut Expander,
    kind: &'static str,
    source: &str,
    (step, ty): (&Ident, &Ident),
    given: &Ident,
    takes: Ident,
) -> Expanded {
    let context = x.context();
    let out = x.shadow(quote!((&&&OutProbe(#ty, #given, #context)).output()));
    Expanded {
        flow: Flow {
            tree: quote!(#step),
            out,
            takes,
        },
        kind,
        default_name: source.to_owned(),
        policy: None,
    }
}

impl Parse for Blocking {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        input.parse::<kw::blocking>()?;
        let args;
        parenthesized!(args in input);
        let f = expr(&args)?;
        trailing_comma(&args)?;
        expect_end(&args, "in `blocking(..)`: it takes one function")?;
        Ok(Blocking { f })
    }
}

impl Blocking {
    /// Binds the function, to run on tokio's blocking pool.
    pub fn expand(&self, x: &mut Expander, source: &str, input: Input) -> Expanded {
        let f = &self.f;
        let (step, ty) = x.bind(
            "step",
            quote_spanned!(f.span()=> ::plan_runtime::blocking!(#f)),
        );
        x.check(
            f.span(),
            Compare::Holds(check_name(source, "is_a_function")),
            quote!((&&StepProbe(#ty)).check()),
            &format!(
                "{} runs a function on tokio's blocking pool, but `{{Self}}` is not a function",
                code(source)
            ),
            "not a function",
            "`blocking(f)` takes a function `fn(I) -> O` (or `-> Result<O, E>`); to give it a value, capture it: `blocking(|data: Vec<u8>| checksum(data, &settings))`",
        );
        let takes = x.unknown();
        leaf(x, "Blocking", source, (&step, &ty), &input.shadow, takes)
    }
}
