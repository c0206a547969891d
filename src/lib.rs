//! The root package of the plan DSL's workspace: it hosts the flagship example, `research`
//! (the README's first command), and only what it needs. Every other example, test and bench
//! lives in the crate it shows.
