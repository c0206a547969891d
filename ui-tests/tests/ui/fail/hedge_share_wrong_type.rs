use plan_runtime::prelude::*;

async fn search(q: String) -> usize {
    q.len()
}

fn main() {
    let ratio: f32 = 0.05;
    let plan = plan! { #[hedge(after = 50ms, share = ratio)] search };
    let _ = plan.run(String::new());
}
