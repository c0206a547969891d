// A step is a function or a plan: a value that is neither cannot run.
use plan_runtime::prelude::*;

struct Settings {
    depth: u32,
}

fn parse(t: String) -> u32 {
    t.len() as u32
}

fn main() {
    let settings = Settings { depth: 2 };
    let plan = plan! { parse >> (settings) };
    let _ = plan.run(String::new());
    let _ = settings.depth;
}
