// Without `by`, a quorum compares the outputs themselves: they must be `Eq + Hash + Debug`.
use plan_runtime::prelude::*;

#[derive(Clone, Debug)]
struct Reply {
    answer: String,
    confidence: f64,
}

async fn ask(q: String) -> Reply {
    Reply { answer: q, confidence: 0.5 }
}

fn main() {
    let plan = plan! { par(quorum(2)) { ask, ask, ask } };
    let _ = plan.run(String::new());
}
