// The first item of a plan: its input is not known yet, but the lens fixes the part's type.
use plan_runtime::prelude::*;

#[derive(Clone, Default, Lens)]
struct Doc {
    title: String,
    words: u32,
}

fn shout(title: String) -> usize {
    title.len()
}

fn main() {
    let plan = plan! { focus(Doc::title) { shout } };
    let _ = plan.run(Doc::default());
}
