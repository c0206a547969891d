use plan_runtime::prelude::*;

fn a(n: u32) -> u32 {
    n
}

fn main() {
    let plan = plan! { #[timout(2s)] a };
    let _ = plan.run(1);
}
