use plan_runtime::prelude::*;

enum Kind {
    Web,
    Other,
}

fn parse(t: String) -> String {
    t
}
fn route(q: String) -> Kind {
    if q.starts_with("http") { Kind::Web } else { Kind::Other }
}
fn fetch(q: String) -> usize {
    q.len()
}
fn skip(_: String) -> usize {
    0
}

fn main() {
    let plan = plan! { parse >> choose(route) { Kind::Web => fetch, Kind::Other => skip } };
    let _ = plan.run(String::new());
}
