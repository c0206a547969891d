//! [`Signature`]: what a served step takes and gives, checked by both ends of the wire.

use std::any::type_name;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What a step served by workers takes and gives: the names of its input and output types,
/// without their module paths (`Vec<Item>`, not `alloc::vec::Vec<worker::Item>`), so that a
/// coordinator and a worker built from different crates agree on a type they both define.
///
/// A coordinator checks a step's signature against the one its workers registered when it
/// makes the step ([`Remote::step`](crate::Remote::step)), and a worker checks every job's
/// before it runs it. Names are what is compared, not shapes: keep the type a step sends in
/// one crate both sides use, and a changed type is caught only if its name changes too.
///
/// ```
/// use plan_remote::Signature;
///
/// let signature = Signature::of::<Vec<u32>, Option<String>>();
/// assert_eq!(signature.to_string(), "Vec<u32> -> Option<String>");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature {
    /// The input type's name.
    pub input: String,
    /// The output type's name.
    pub output: String,
}

impl Signature {
    /// The signature of a step from `In` to `Out`.
    pub fn of<In, Out>() -> Self {
        Signature {
            input: without_paths(type_name::<In>()),
            output: without_paths(type_name::<Out>()),
        }
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.input, self.output)
    }
}

/// `name` with every path cut to its last segment: `alloc::vec::Vec<my::Item>` is
/// `Vec<Item>`.
fn without_paths(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(word.rsplit("::").next().unwrap_or_default());
        word.clear();
    };
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cut_everywhere_in_a_type() {
        assert_eq!(
            without_paths("core::result::Result<alloc::vec::Vec<a::b::Item>, (u8, c::D)>"),
            "Result<Vec<Item>, (u8, D)>"
        );
        assert_eq!(without_paths("&[u8; 4]"), "&[u8; 4]");
    }
}
