//! Plans nest: as steps, inside constructs, and first in a plan, with their outputs checked
//! against the steps after them.

use plan_runtime::prelude::*;

fn parse(text: String) -> u32 {
    text.len() as u32
}
fn double(n: u32) -> u32 {
    n * 2
}
fn show(n: u32) -> String {
    n.to_string()
}
fn small(n: &u32) -> bool {
    *n < 100
}

fn main() {
    let inner = plan! { parse >> double };
    let again = plan! { double >> double };
    let plan = plan! {
        inner >> par(all) { (again.clone()), double } >> (|(a, b): (u32, u32)| a + b)
        >> loop(while = small, max = 10) { again } >> show
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    // "abc": 3 -> 6 -> (24, 12) -> 36 -> 144 -> "144"
    assert_eq!(rt.block_on(plan.run("abc".to_owned())).unwrap(), "144");
}
