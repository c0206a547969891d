use plan_runtime::prelude::*;

async fn search(q: String) -> usize {
    q.len()
}

fn main() {
    let plan = plan! { #[hedge(after = 50ms, share = 0%)] search };
    let _ = plan.run(String::new());
}
