use plan_runtime::prelude::*;

fn f(x: (u32, u32)) -> u32 {
    x.0
}
fn g(x: u32) -> u32 {
    x
}

fn main() {
    let _ = plan! {
        let a = (a, b) >> f;
        let b = g;
        a
    };
}
