use plan_runtime::prelude::*;

fn items(_: u32) -> Vec<u32> {
    vec![1, 2]
}
fn a(n: u32) -> u32 {
    n
}

fn main() {
    let plan = plan! { items >> each(all, limit = 0) { a } };
    let _ = plan.run(1);
}
