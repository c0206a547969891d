use plan_runtime::prelude::*;

fn revise(draft: String) -> String {
    draft + "!"
}

fn main() {
    let done = true;
    let plan = plan! { revise >> loop(until = done, max = 3) { revise } };
    let _ = plan.run(String::new());
}
