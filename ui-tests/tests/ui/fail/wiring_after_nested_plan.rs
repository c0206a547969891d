// The output of a nested plan is known: the step after it is checked against it.
use plan_runtime::prelude::*;

fn parse(text: String) -> u32 {
    text.len() as u32
}
fn double(n: u32) -> u32 {
    n * 2
}
fn shout(s: String) -> String {
    s.to_uppercase()
}

fn main() {
    let inner = plan! { parse >> double };
    let plan = plan! { inner >> shout };
    let _ = plan.run(String::new());
}
