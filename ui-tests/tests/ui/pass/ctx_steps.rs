//! Steps that read a shared context: sync and async, plain and fallible, and a closure taking
//! `&Ctx`, mixed with context-free steps, run with `.ctx(&ctx)` and `.until(..)`.

use plan_runtime::prelude::*;

struct Config {
    factor: u64,
    prefix: String,
}

fn scale(n: u64, cfg: &Config) -> u64 {
    n * cfg.factor
}
async fn fetch(n: u64, cfg: &Config) -> Result<String, std::io::Error> {
    Ok(format!("{}{n}", cfg.prefix))
}
async fn lookup(n: u64, cfg: &Config) -> String {
    format!("{}#{n}", cfg.prefix)
}
fn checked(n: u64, cfg: &Config) -> Result<u64, PlanError> {
    Ok(n + cfg.factor)
}
fn join((a, b): (String, String)) -> usize {
    a.len() + b.len()
}

fn main() {
    let with_ctx = plan! {
        scale
        >> checked
        >> (|n: u64, cfg: &Config| n + cfg.factor)
        >> par(all) { fetch, lookup }
        >> join
    };
    let cfg = Config { factor: 3, prefix: "id-".to_string() };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let n: usize = rt.block_on(with_ctx.run(2).ctx(&cfg)).unwrap();
    assert_eq!(n, "id-12".len() + "id-#12".len());

    let token = CancellationToken::new();
    let m: usize = rt.block_on(with_ctx.run(2).ctx(&cfg).until(token.cancelled_owned())).unwrap();
    assert_eq!(m, n);
}
