// A `loop` condition answers yes or no: `Fn(&State) -> bool`.
use plan_runtime::prelude::*;

fn revise(draft: String) -> String {
    draft + "!"
}
fn remaining(draft: &String) -> usize {
    10 - draft.len().min(10)
}

fn main() {
    let plan = plan! { loop(while = remaining, max = 5) { revise } };
    let _ = plan.run(String::new());
}
