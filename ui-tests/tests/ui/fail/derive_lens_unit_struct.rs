use plan_runtime::prelude::*;

#[derive(Lens)]
struct Marker;

fn main() {}
