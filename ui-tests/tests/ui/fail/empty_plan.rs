use plan_runtime::prelude::*;

fn main() {
    let _plan = plan! {};
}
