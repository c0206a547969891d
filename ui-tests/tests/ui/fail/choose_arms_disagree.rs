use plan_runtime::prelude::*;

fn is_even(n: &u32) -> bool {
    n % 2 == 0
}
fn to_text(n: u32) -> String {
    n.to_string()
}
fn to_len(n: u32) -> usize {
    n as usize
}

#[tokio::main]
async fn main() {
    let plan = plan! { choose { if is_even => to_text, else => to_len } };
    let _ = plan.run(2).await;
}
