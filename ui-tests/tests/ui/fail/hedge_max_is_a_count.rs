use plan_runtime::prelude::*;

async fn search(q: String) -> usize {
    q.len()
}

fn main() {
    let plan = plan! { #[hedge(after = p95, max = 2s)] search };
    let _ = plan.run(String::new());
}
