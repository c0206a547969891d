use plan_runtime::prelude::*;

fn parse(text: String) -> u32 {
    text.len() as u32
}

#[tokio::main]
async fn main() {
    let plan = plan! { parse };
    let _ = plan.run(42u32).await;
}
