use plan_runtime::prelude::*;

enum Kind {
    Math,
    Chat,
}

fn route(q: &String) -> Kind {
    if q.contains('+') { Kind::Math } else { Kind::Chat }
}
fn solve(q: String) -> f64 {
    q.len() as f64
}
fn chat(q: String) -> String {
    q
}

fn main() {
    let plan = plan! { choose(route) { Kind::Math => solve, Kind::Chat => chat } };
    let _ = plan.run(String::new());
}
