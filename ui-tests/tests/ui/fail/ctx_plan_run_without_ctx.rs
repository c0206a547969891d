use plan_runtime::prelude::*;

struct Config {
    factor: u32,
}

fn scale(n: u32, cfg: &Config) -> u32 {
    n * cfg.factor
}

#[tokio::main]
async fn main() {
    let plan = plan! { scale };
    let _ = plan.run(2).await;
}
