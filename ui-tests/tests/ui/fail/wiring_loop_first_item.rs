// A loop first in a plan: its state is what its body takes.
use plan_runtime::prelude::*;

fn small(n: &u32) -> bool {
    *n < 10
}
fn describe(n: u32) -> String {
    n.to_string()
}

fn main() {
    let plan = plan! { loop(while = small, max = 5) { describe } };
    let _ = plan.run(1);
}
