use plan_runtime::prelude::*;

fn is_long(s: &String) -> bool {
    s.len() > 10
}
fn shorten(s: String) -> String {
    s
}
fn keep(n: u32) -> String {
    n.to_string()
}

fn main() {
    let plan = plan! { choose { if is_long => shorten, else => keep } };
    let _ = plan.run(String::new());
}
