//! The README's snippets as doctests: `cargo test -p readme` compiles every ```rust block of
//! README.md and runs those that are not `no_run`.
#![forbid(unsafe_code)]

#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
