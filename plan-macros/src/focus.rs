//! `focus(lens) { body }`: the body runs on one part of the state.

use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, parenthesized, token};

use crate::expander::{Agreement, Compare, Expander, Flow, Input, check_name, code};
use crate::item::{Chain, Expanded, Site, parse_body};
use crate::keyword as kw;
use crate::parse::{expect_end, expr, trailing_comma};
use crate::source::source_text;

pub struct Focus {
    pub lens: Expr,
    /// The lens as written, for messages.
    pub lens_source: String,
    pub body: Chain,
}

impl Parse for Focus {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        input.parse::<kw::focus>()?;
        if !input.peek(token::Paren) {
            return Err(input.error("`focus` needs a lens: `focus(Type::field) { .. }`"));
        }
        let args;
        parenthesized!(args in input);
        if args.is_empty() {
            return Err(args.error("`focus` needs a lens: `focus(Agent::memory) { .. }`"));
        }
        let start = args.cursor();
        let span = args.span();
        let lens = expr(&args)?;
        let lens_source = source_text(start, args.cursor(), span);
        trailing_comma(&args)?;
        expect_end(&args, "in `focus(..)`: it takes one lens")?;
        let body = parse_body(input, "focus")?;
        Ok(Focus {
            lens,
            lens_source,
            body,
        })
    }
}

impl Focus {
    pub fn expand(&self, x: &mut Expander, _site: &Site<'_>, input: Input) -> Expanded {
        let lens = &self.lens;
        let span = lens.span();
        let (value, ty) = x.bind("lens", quote_spanned!(span=> #lens));
        let given = &input.shadow;
        x.check(
            span,
            Compare::Fits(check_name(&self.lens_source, "looks_into")),
            quote!((&&&LensProbe(#ty, #given)).fit()),
            &format!(
                "{} is not a lens into `{{T}}`, the data {} gives this `focus`",
                code(&self.lens_source),
                input.from
            ),
            "not a lens into `{T}`",
            "`#[derive(Lens)]` on a struct gives `Type::field` lenses into that struct; compose them with `.then(..)`",
        );
        let part = x.shadow(quote!((&&&LensProbe(#ty, #given)).target()));
        let source = x.shadow(quote!((&&LensProbe(#ty, #given)).source()));
        let state = x.either(given, &source);
        let lens_name = code(&self.lens_source);
        let body_input = Input {
            shadow: part.clone(),
            untracked: false,
            from: format!("the lens {lens_name}"),
            gives: format!("the lens {lens_name} focuses on `{{Self}}`"),
        };
        let body = self.body.expand(x, _site.path, false, body_input);
        let message = format!(
            "mismatched types in plan: the body of `focus({})` gives back the part it takes, but {} gives `{{Self}}` where the lens focuses on `{{T}}`",
            crate::source::escape(&self.lens_source),
            self.body.last_label()
        );
        x.agree(
            self.body.span(),
            &body.out,
            &part,
            Agreement {
                name: "focus_gives_back_its_part",
                message: &message,
                label: "gives `{Self}`, not `{T}`",
                note: "`focus` puts what its body returns back in place of the part: the body is `{T} -> {T}`",
            },
        );
        let tree = &body.tree;
        Expanded {
            flow: Flow {
                tree: quote_spanned!(span=> ::plan_runtime::nodes::focus(#value, #tree)),
                out: state.clone(),
                takes: state,
            },
            kind: "Focus",
            default_name: "focus".into(),
            policy: None,
        }
    }
}
