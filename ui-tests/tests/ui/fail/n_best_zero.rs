use plan_runtime::prelude::*;

fn a(n: u32) -> u32 {
    n
}
fn score(n: &u32) -> u32 {
    *n
}

fn main() {
    let plan = plan! { par(n_best(0, by = score)) { a, a } };
    let _ = plan.run(1);
}
