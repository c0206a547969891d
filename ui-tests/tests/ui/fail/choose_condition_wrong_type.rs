use plan_runtime::prelude::*;

fn parse(t: String) -> u32 {
    t.len() as u32
}
fn is_long(s: &String) -> bool {
    s.len() > 3
}
fn big(n: u32) -> u32 {
    n
}
fn small(n: u32) -> u32 {
    n
}

fn main() {
    let plan = plan! { parse >> choose { if is_long => big, else => small } };
    let _ = plan.run(String::new());
}
