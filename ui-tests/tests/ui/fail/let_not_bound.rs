use plan_runtime::prelude::*;

fn f(x: u32) -> u32 {
    x
}
fn g(x: (u32, u32)) -> u32 {
    x.0 + x.1
}

fn main() {
    let _ = plan! {
        let alpha = f;
        let b = (alphq, alpha) >> g;
        b
    };
}
