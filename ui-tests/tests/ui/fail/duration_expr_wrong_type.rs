use plan_runtime::prelude::*;

fn fetch(n: u32) -> u32 {
    n + 1
}

fn main() {
    let millis: u64 = 250;
    let _plan = plan! { #[timeout(millis)] fetch };
}
