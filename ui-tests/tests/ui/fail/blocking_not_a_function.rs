use plan_runtime::prelude::*;

struct Settings;

fn parse(t: String) -> u32 {
    t.len() as u32
}

fn main() {
    let settings = Settings;
    let plan = plan! { parse >> blocking(settings) };
    let _ = plan.run(String::new());
}
