use plan_runtime::prelude::*;

struct Query(String);

fn parse(text: String) -> Query {
    Query(text)
}
async fn search(q: Query) -> usize {
    q.0.len()
}

fn main() {
    let plan = plan! { parse >> #[hedge(after = 50ms)] search };
    let _ = plan.run(String::new());
}
