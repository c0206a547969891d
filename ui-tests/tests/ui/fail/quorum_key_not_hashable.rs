// A quorum's key is counted: it must be `Eq + Hash + Debug` (an `f64` is not `Eq`).
use plan_runtime::prelude::*;

#[derive(Clone)]
struct Reply {
    confidence: f64,
}

async fn ask(_q: String) -> Reply {
    Reply { confidence: 0.5 }
}
fn confidence(reply: &Reply) -> f64 {
    reply.confidence
}

fn main() {
    let plan = plan! { par(quorum(2, by = confidence)) { ask, ask, ask } };
    let _ = plan.run(String::new());
}
