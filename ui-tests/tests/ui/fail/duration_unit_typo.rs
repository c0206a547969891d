use plan_runtime::prelude::*;

fn a(n: u32) -> u32 {
    n
}

fn main() {
    let plan = plan! { #[timeout(5sec)] a };
    let _ = plan.run(1);
}
