// A lens composed with `.then(..)`: the body must be `T -> T` for the inner field.
use plan_runtime::prelude::*;

#[derive(Clone, Default, Lens)]
struct Memory {
    notes: Vec<String>,
}

#[derive(Clone, Default, Lens)]
struct Agent {
    memory: Memory,
}

fn load(_: u32) -> Agent {
    Agent::default()
}
fn summarize(notes: Vec<String>) -> String {
    notes.join(" ")
}

fn main() {
    let plan = plan! { load >> focus(Agent::memory.then(Memory::notes)) { summarize } };
    let _ = plan.run(1);
}
