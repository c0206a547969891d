//! Workspace-level examples, tests and benches for the plan DSL.
