use plan_runtime::prelude::*;

#[derive(Default, Lens)]
struct Pair(u32, String);

fn main() {}
