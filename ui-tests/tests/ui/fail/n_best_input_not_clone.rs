// `n_best` is a `par`: each branch gets a clone of the input.
use plan_runtime::prelude::*;

struct Brief(String);

fn brief(text: String) -> Brief {
    Brief(text)
}
fn short(b: Brief) -> String {
    b.0
}
fn long(b: Brief) -> String {
    b.0.repeat(2)
}
fn length(s: &String) -> usize {
    s.len()
}

fn main() {
    let plan = plan! { brief >> par(n_best(1, by = length)) { short, long } };
    let _ = plan.run(String::new());
}
