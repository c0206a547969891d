use plan_runtime::prelude::*;

struct Draft(String);

fn write(topic: String) -> Draft {
    Draft(format!("about {topic}"))
}
fn publish(draft: Draft) -> usize {
    draft.0.len()
}

fn main() {
    let plan = plan! { #[durable] write >> publish };
    let _ = plan.run(String::new());
}
