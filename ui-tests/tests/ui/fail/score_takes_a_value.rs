// A score reads a branch's output by reference.
use plan_runtime::prelude::*;

#[derive(Clone)]
struct Draft(String);

fn draft_a(t: String) -> Draft {
    Draft(t)
}
fn draft_b(t: String) -> Draft {
    Draft(t + "!")
}
fn score(d: Draft) -> usize {
    d.0.len()
}

fn main() {
    let plan = plan! { par(best(by = score)) { draft_a, draft_b } };
    let _ = plan.run(String::new());
}
