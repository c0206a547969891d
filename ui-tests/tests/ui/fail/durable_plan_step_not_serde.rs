use plan_runtime::prelude::*;

struct Draft(String);

fn topic(n: u32) -> String {
    format!("topic {n}")
}
fn write(topic: String) -> Draft {
    Draft(format!("about {topic}"))
}
fn publish(draft: Draft) -> usize {
    draft.0.len()
}

fn main() {
    let plan = plan! {
        #![durable]
        topic >> write >> publish
    };
    let _ = plan.run(1);
}
