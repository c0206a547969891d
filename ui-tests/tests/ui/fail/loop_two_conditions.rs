use plan_runtime::prelude::*;

fn parse(text: String) -> u32 {
    text.len() as u32
}
fn fetch(n: u32) -> u32 {
    n + 1
}
fn store(n: u32) -> u32 {
    n * 2
}
fn is_big(n: &u32) -> bool {
    *n > 10
}

fn main() {
    let _plan = plan! {
        parse >> loop(while = is_big, until = is_big, max = 3) { fetch }
    };
}
