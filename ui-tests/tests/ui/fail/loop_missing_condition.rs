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

fn main() {
    let _plan = plan! {
        parse >> loop(max = 3) { fetch }
    };
}
