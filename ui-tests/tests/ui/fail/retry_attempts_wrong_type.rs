use plan_runtime::prelude::*;

fn parse(t: String) -> u32 {
    t.len() as u32
}

fn main() {
    let attempts: usize = 3;
    let plan = plan! { #[retry(attempts)] parse };
    let _ = plan.run(String::new());
}
