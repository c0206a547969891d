use plan_runtime::prelude::*;

fn f(x: u32) -> u32 {
    x
}
fn g(x: u32) -> u32 {
    x
}

fn main() {
    let _ = plan! {
        let a = f;
        let b = a >> g >> a;
        b
    };
}
