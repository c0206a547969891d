use plan_runtime::prelude::*;

async fn search(q: String) -> usize {
    q.len()
}

fn main() {
    let plan = plan! { #[hedge(after = p100)] search };
    let _ = plan.run(String::new());
}
