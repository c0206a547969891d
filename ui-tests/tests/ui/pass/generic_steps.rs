//! Generic steps: with a turbofish, and with their types inferred from the plan around them
//! (a generic output unified with the other branches of a `par(first)`).

use plan_runtime::prelude::*;

fn parse<T: std::str::FromStr + Default>(text: String) -> T {
    text.trim().parse().unwrap_or_default()
}
fn twice<T: Clone>(x: T) -> (T, T) {
    (x.clone(), x)
}
fn sum((a, b): (u64, u64)) -> u64 {
    a + b
}
fn fallback<T: Default>(_: u64) -> Result<T, String> {
    Err("no answer".to_owned())
}
fn answer(n: u64) -> Result<u64, String> {
    Ok(n * 10)
}

fn main() {
    let plan = plan! { parse::<u64> >> twice::<u64> >> sum >> par(first) { fallback, answer } };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(plan.run(" 21 ".to_owned())).unwrap(), 420);
}
