// Every branch of a `par` gets the same input (here the plan's own, which the first branch fixes).
use plan_runtime::prelude::*;

fn search_web(q: String) -> usize {
    q.len()
}
fn search_papers(id: u64) -> usize {
    id as usize
}

fn main() {
    let plan = plan! { par(all) { search_web, search_papers } };
    let _ = plan.run(String::new());
}
