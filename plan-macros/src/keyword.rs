//! The plan's keywords, and which construct a term opens.

use syn::parse::ParseStream;
use syn::{Token, token};

use crate::choose::parse as parse_choose;
use crate::each::Each;
use crate::focus::Focus;
use crate::item::{Body, Term, parse_body};
use crate::loops::Loop;
use crate::par::Par;
use crate::step::{Blocking, Step};
use crate::suggest::closest;

syn::custom_keyword!(seq);
syn::custom_keyword!(par);
syn::custom_keyword!(each);
syn::custom_keyword!(choose);
syn::custom_keyword!(focus);
syn::custom_keyword!(blocking);
syn::custom_keyword!(all);
syn::custom_keyword!(settled);
syn::custom_keyword!(first);
syn::custom_keyword!(first_completed);
syn::custom_keyword!(n_best);
syn::custom_keyword!(best);
syn::custom_keyword!(by);
syn::custom_keyword!(timeout);
syn::custom_keyword!(limit);
syn::custom_keyword!(until);
syn::custom_keyword!(max);
syn::custom_keyword!(on_limit);
syn::custom_keyword!(stop);
syn::custom_keyword!(error);
syn::custom_keyword!(retry);
syn::custom_keyword!(backoff);
syn::custom_keyword!(name);
syn::custom_keyword!(durable);
syn::custom_keyword!(layer);
syn::custom_keyword!(hedge);
syn::custom_keyword!(after);
syn::custom_keyword!(share);
syn::custom_keyword!(min_delay);
syn::custom_keyword!(max_delay);

/// The keywords that open a construct followed by `{ .. }` or `(..) { .. }`.
const CONSTRUCTS: &[&str] = &["seq", "par", "each", "choose", "focus", "loop"];

/// Parses one term: a construct if a keyword opens it, else a step.
pub fn parse_term(input: ParseStream) -> syn::Result<Term> {
    // Keywords are recognised only where they open a construct, so a step may still be
    // called `first` or `best`.
    if input.peek(seq) && input.peek2(token::Brace) {
        input.parse::<seq>()?;
        return parse_seq(input);
    }
    if input.peek(par) && (input.peek2(token::Brace) || input.peek2(token::Paren)) {
        return Ok(Term::Par(input.parse::<Par>()?));
    }
    if input.peek(each) && (input.peek2(token::Brace) || input.peek2(token::Paren)) {
        return Ok(Term::Each(input.parse::<Each>()?));
    }
    if input.peek(choose) && (input.peek2(token::Brace) || input.peek2(token::Paren)) {
        return parse_choose(input);
    }
    if input.peek(focus) && (input.peek2(token::Brace) || input.peek2(token::Paren)) {
        return Ok(Term::Focus(input.parse::<Focus>()?));
    }
    if input.peek(Token![loop]) {
        return Ok(Term::Loop(input.parse::<Loop>()?));
    }
    if input.peek(blocking) && input.peek2(token::Paren) {
        return Ok(Term::Blocking(input.parse::<Blocking>()?));
    }
    misspelled_construct(input)?;
    Ok(Term::Step(input.parse::<Step>()?))
}

/// An identifier close to a keyword, followed by what opens that construct (`paralel(all)
/// { .. }`, `chose { .. }`), is a misspelled keyword, not a step.
fn misspelled_construct(input: ParseStream) -> syn::Result<()> {
    let fork = input.fork();
    let Ok(ident) = fork.parse::<syn::Ident>() else {
        return Ok(());
    };
    let opens = fork.peek(token::Brace)
        || (fork.peek(token::Paren) && {
            let args;
            syn::parenthesized!(args in fork);
            drop(args);
            fork.peek(token::Brace)
        });
    if !opens {
        return Ok(());
    }
    let word = ident.to_string();
    let hint = closest(&word, CONSTRUCTS).map_or_else(
        || "constructs are `seq`, `par`, `each`, `choose`, `focus` and `loop`".to_owned(),
        |keyword| format!("did you mean `{keyword}`?"),
    );
    Err(syn::Error::new(
        ident.span(),
        format!("unknown construct `{word}`: {hint}"),
    ))
}

/// `seq { chain }`, or `seq { let .. ; output }`: a block of bindings usable as one item.
fn parse_seq(input: ParseStream) -> syn::Result<Term> {
    let fork = input.fork();
    let content;
    syn::braced!(content in fork);
    if !content.peek(Token![let]) {
        return Ok(Term::Seq(Body::Chain(parse_body(input, "seq")?)));
    }
    let content;
    syn::braced!(content in input);
    Ok(Term::Seq(Body::Bindings(content.parse()?)))
}
