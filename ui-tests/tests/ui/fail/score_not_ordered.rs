// A score's result must be ordered and printable (`PartialOrd + Debug`).
use plan_runtime::prelude::*;

struct Grade(u8);

fn a(n: u32) -> u32 {
    n
}
fn b(n: u32) -> u32 {
    n + 1
}
fn grade(n: &u32) -> Grade {
    Grade(*n as u8)
}

fn main() {
    let plan = plan! { par(n_best(1, by = grade)) { a, b } };
    let _ = plan.run(1);
}
