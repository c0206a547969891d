use plan_runtime::prelude::*;

fn done(n: &u32) -> bool {
    *n > 3
}
fn inc(n: u32) -> u32 {
    n + 1
}

fn main() {
    let plan = plan! { loop(until = done, max = 0) { inc } };
    let _ = plan.run(1);
}
