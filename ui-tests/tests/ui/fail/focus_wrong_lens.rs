use plan_runtime::prelude::*;

#[derive(Default, Lens)]
struct Agent {
    memory: Vec<String>,
}

#[derive(Default)]
struct Report {
    text: String,
}

fn load(report: Report) -> Report {
    report
}

fn remember(notes: Vec<String>) -> Vec<String> {
    notes
}

fn main() {
    let plan = plan! { load >> focus(Agent::memory) { remember } };
    drop(plan);
}
