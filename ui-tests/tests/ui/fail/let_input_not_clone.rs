use plan_runtime::prelude::*;

struct Job(u32);

fn size(j: Job) -> u32 {
    j.0
}
fn id(j: Job) -> u32 {
    j.0
}

#[tokio::main]
async fn main() {
    let plan = plan! {
        let a = size;
        let b = id;
        (a, b)
    };
    let _ = plan.run(Job(1)).await;
}
