use plan_runtime::prelude::*;

struct Query(String);

fn parse(text: String) -> Query {
    Query(text)
}
async fn web(q: Query) -> usize {
    q.0.len()
}
async fn papers(q: Query) -> usize {
    q.0.len() + 1
}

fn main() {
    let plan = plan! { parse >> par(all) { web, papers } };
    let _ = plan.run(String::new());
}
