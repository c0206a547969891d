use plan_runtime::prelude::*;

struct Hits(Vec<String>);

fn search(q: String) -> Hits {
    Hits(vec![q])
}
fn count(h: Hits) -> usize {
    h.0.len()
}
fn first(h: Hits) -> String {
    h.0.into_iter().next().unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let plan = plan! {
        let hits = search;
        let n = hits >> count;
        let top = hits >> first;
        (n, top)
    };
    let _ = plan.run("q".to_owned()).await;
}
