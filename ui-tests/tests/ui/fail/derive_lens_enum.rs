use plan_runtime::prelude::*;

#[derive(Lens)]
enum Phase {
    Draft { text: String },
    Final { text: String },
}

fn main() {}
