// A mismatch inside a branch of a `par`, after its first step.
use plan_runtime::prelude::*;

#[derive(Clone)]
struct Query(String);
struct Hits(Vec<String>);
struct Page(String);

fn parse(text: String) -> Query {
    Query(text)
}
async fn search(q: Query) -> Hits {
    Hits(vec![q.0])
}
fn render(p: Page) -> String {
    p.0
}
fn count(h: Hits) -> usize {
    h.0.len()
}

fn main() {
    let plan = plan! { parse >> par(all) { search >> count, search >> render } };
    let _ = plan.run(String::new());
}
