use plan_runtime::prelude::*;

#[derive(Clone)]
struct Draft(String);
struct Review(u32);

fn start(text: String) -> Draft {
    Draft(text)
}
fn good_enough(_: &Draft) -> bool {
    true
}
fn critique(d: Draft) -> Review {
    Review(d.0.len() as u32)
}

fn main() {
    let plan = plan! { start >> loop(until = good_enough, max = 3) { critique } };
    let _ = plan.run(String::new());
}
