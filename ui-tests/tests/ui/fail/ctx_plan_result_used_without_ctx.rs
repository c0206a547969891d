// A plan whose steps take a context, run without it, its result printed.
use plan_runtime::prelude::*;

struct Config {
    factor: u32,
}

fn scale(n: u32, cfg: &Config) -> u32 {
    n * cfg.factor
}

#[tokio::main]
async fn main() -> Result<(), PlanError> {
    let plan = plan! { scale };
    let out = plan.run(2).await?;
    println!("{out}");
    Ok(())
}
