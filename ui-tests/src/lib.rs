//! The compile-time UI tests of `plan!` and `#[derive(Lens)]` live in `tests/`: well-formed
//! plans compile and run (`tests/ui/pass`), malformed plans and wiring mistakes fail with the
//! diagnostics pinned in `tests/ui/fail/*.stderr`. This crate has no code of its own; it
//! exists so that trybuild builds the cases against its few dependencies only.
#![forbid(unsafe_code)]
