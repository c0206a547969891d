use plan_runtime::prelude::*;

#[derive(Clone)]
struct Draft(String);

fn start(t: String) -> Draft {
    Draft(t)
}
fn good_enough(d: Draft) -> bool {
    d.0.len() > 3
}
fn revise(d: Draft) -> Draft {
    Draft(d.0 + ".")
}

fn main() {
    let plan = plan! { start >> loop(until = good_enough, max = 3) { revise } };
    let _ = plan.run(String::new());
}
