use plan_runtime::prelude::*;

fn a(n: u32) -> u32 {
    n
}

fn main() {
    let plan = plan! { #[retry(0)] a };
    let _ = plan.run(1);
}
