use plan_runtime::prelude::*;

fn a(n: u32) -> u32 {
    n
}
fn b(n: u32) -> u32 {
    n
}

fn main() {
    let plan = plan! { paralel(all) { a, b } };
    let _ = plan.run(1);
}
