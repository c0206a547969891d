use plan_runtime::prelude::*;

async fn ask(q: String) -> String {
    q
}

fn main() {
    let plan = plan! { par(quorum(4)) { ask, ask, ask } };
    let _ = plan.run(String::new());
}
