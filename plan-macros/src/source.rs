//! Source text of parsed tokens, for node names, errors and diagnostics.

use proc_macro2::Span;
use syn::buffer::Cursor;

/// The source text of the tokens from `start` up to `end` (the parser's position after
/// them), as written (whitespace collapsed), shortened past 80 characters.
pub fn source_text(start: Cursor, end: Cursor, span: Span) -> String {
    // Walk only the consumed tokens: the rest of the plan may be thousands of tokens long.
    let mut consumed = Vec::new();
    let mut cursor = start;
    // `<`, not `!=`: a step from a `macro_rules!` fragment sits in an invisible group that
    // `token_tree` steps over whole, so the walk can pass `end` without landing on it.
    while cursor < end {
        let Some((token, next)) = cursor.token_tree() else {
            break;
        };
        consumed.push(token);
        cursor = next;
    }
    let mut text = joined(consumed);
    if text.is_empty() {
        text = span.source_text().unwrap_or_default();
    }
    shorten(&text.split_whitespace().collect::<Vec<_>>().join(" "), 80)
}

/// The source text of an expression already parsed, as [`source_text`] gives it.
pub fn written(expr: &syn::Expr) -> String {
    use quote::ToTokens;
    let text = joined(expr.to_token_stream());
    shorten(&text.split_whitespace().collect::<Vec<_>>().join(" "), 80)
}

/// `tokens` as written, with a space where the source has a gap between two of them.
fn joined(tokens: impl IntoIterator<Item = proc_macro2::TokenTree>) -> String {
    let mut text = String::new();
    let mut previous_end = None;
    for token in tokens {
        let token_span = token.span();
        // Span joining is unstable; rebuild the text token by token, keeping the gaps.
        if previous_end.is_some_and(|end| end != token_span.start()) {
            text.push(' ');
        }
        previous_end = Some(token_span.end());
        match token_span.source_text() {
            Some(source) => text.push_str(&source),
            None => text.push_str(&token.to_string()),
        }
    }
    text
}

/// `text`, cut to `max` characters with `...`.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        let short: String = text.chars().take(max - 3).collect();
        format!("{short}...")
    } else {
        text.to_owned()
    }
}

/// `text` for a `#[diagnostic::on_unimplemented]` format string: braces doubled.
pub fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}
