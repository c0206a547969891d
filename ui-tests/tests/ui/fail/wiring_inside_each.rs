// The body of `each` takes one item of the collection.
use plan_runtime::prelude::*;

fn urls(_: u32) -> Vec<String> {
    vec!["a".into()]
}
async fn fetch(url: u64) -> usize {
    url as usize
}

fn main() {
    let plan = plan! { urls >> each(all, limit = 4) { fetch } };
    let _ = plan.run(1);
}
