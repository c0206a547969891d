use plan_runtime::prelude::*;

fn a(n: u32) -> u32 {
    n
}

fn main() {
    let plan = plan! { par(all, timout = 2s) { a, a } };
    let _ = plan.run(1);
}
