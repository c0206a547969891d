// A quorum's key reads each branch's output by reference.
use plan_runtime::prelude::*;

#[derive(Clone)]
struct Reply {
    answer: String,
}

async fn ask(q: String) -> Reply {
    Reply { answer: q }
}
fn answer(reply: Reply) -> String {
    reply.answer
}

fn main() {
    let plan = plan! { par(quorum(2, by = answer)) { ask, ask, ask } };
    let _ = plan.run(String::new());
}
