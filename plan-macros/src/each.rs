//! `each(POLICY, opts) { body }`: one body over every item of the input.

use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::{parenthesized, token};

use crate::expander::{Compare, Expander, Flow, Input, code};
use crate::group::{Group, Policy};
use crate::item::{Chain, Expanded, Site, parse_body};
use crate::keyword as kw;

pub struct Each {
    pub group: Group,
    pub body: Chain,
}

impl Parse for Each {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        input.parse::<kw::each>()?;
        if !input.peek(token::Paren) {
            return Err(input
                .error("`each` needs a policy: `each(all) { step }` (or `each(all, limit = 8)`)"));
        }
        let args;
        parenthesized!(args in input);
        let group = Group::parse(&args, "each")?;
        let body = parse_body(input, "each")?;
        Ok(Each { group, body })
    }
}

impl Each {
    pub fn expand(&self, x: &mut Expander, site: &Site<'_>, input: Input) -> Expanded {
        let given = &input.shadow;
        let probe = x.shadow(quote!((&&&ItemProbe(#given)).item()));
        let item = x.shadow(quote!(#probe.0));
        let label = code(&format!("each({})", self.group.written));
        x.check(
            site.span,
            Compare::Holds("each_iterates_over_its_input".to_owned()),
            quote!(#probe.1),
            &format!(
                "{label} runs its body once per item of {}, but `{{Self}}` is not `IntoIterator`",
                input.what()
            ),
            "`{Self}` is not a collection",
            "feed `each` a `Vec`, an array, a range or any other `IntoIterator`",
        );
        let body_input = Input {
            shadow: item,
            gives: format!(
                "{label} gives it the items of what {} gives, of type `{{Self}}`",
                input.from
            ),
            untracked: false,
            from: input.from.clone(),
        };
        let body = self.body.expand(x, site.path, false, body_input);
        let out = match self.group.policy {
            Policy::All | Policy::NBest { .. } => {
                let out = &body.out;
                x.shadow(quote!(::plan_runtime::wiring::vec_of(#out)))
            }
            Policy::Settled => {
                let out = &body.out;
                x.shadow(quote!(::plan_runtime::wiring::settled_of(#out)))
            }
            Policy::Quorum { .. } => {
                let out = &body.out;
                x.shadow(quote!(::plan_runtime::wiring::quorum_of(#out)))
            }
            Policy::First | Policy::FirstCompleted | Policy::Best { .. } => body.out.clone(),
        };
        let policy = self.group.policy_tokens(x, &body.out);
        let options = self.group.options();
        let tree = &body.tree;
        let takes = x.unknown();
        Expanded {
            flow: Flow {
                tree: quote_spanned!(site.span=> ::plan_runtime::nodes::each(#policy, #tree)#options),
                out,
                takes,
            },
            kind: "Each",
            default_name: "each".into(),
            policy: Some(self.group.written.clone()),
        }
    }
}
