use plan_runtime::prelude::*;

struct Query(String);
struct Hits(Vec<String>);

fn parse(text: String) -> Query {
    Query(text)
}
fn merge(hits: Hits) -> u32 {
    hits.0.len() as u32
}

#[tokio::main]
async fn main() {
    let plan = plan! { parse >> merge };
    let _ = plan.run(String::new()).await;
}
