use plan_runtime::prelude::*;

async fn search(q: String) -> usize {
    q.len()
}

fn main() {
    let plan = plan! { #[hedge(max = 2)] search };
    let _ = plan.run(String::new());
}
