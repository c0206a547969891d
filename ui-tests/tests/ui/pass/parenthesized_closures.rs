//! Closures and expressions in parentheses, as the language asks for them, compile without
//! warnings in a crate that denies them.
#![deny(warnings)]

use plan_runtime::prelude::*;

fn main() {
    let plan = plan! {
        (|n: u32| n + 1)
        >> loop(until = (|n: &u32| *n > 3), max = (5)) { (|n: u32| n + 1) }
        >> choose { if (|n: &u32| *n % 2 == 0) => (|n: u32| n / 2), else => (|n: u32| n) }
        >> par(best(by = (|n: &u32| *n))) { (|n: u32| n), (|n: u32| n * 2) }
    };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(plan.run(0)).unwrap(), 4);
}
