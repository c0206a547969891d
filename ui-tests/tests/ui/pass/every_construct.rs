//! One plan using every construct of the language: `>>`, `seq`, `par` with each policy and
//! its options (`quorum` among them), `each`, both forms of `choose`, `focus`, both forms of
//! `loop`, `blocking`, attributes (`#[hedge]` among them), closures, calls, and a nested plan.

use plan_runtime::prelude::*;

#[derive(Clone, Debug, Default, Lens)]
struct State {
    count: u32,
    passes: u32,
}

enum Size {
    Small,
    Medium,
    Large,
}

fn parse(text: String) -> u32 {
    text.trim().parse().unwrap_or(0)
}
fn inc(n: u32) -> u32 {
    n + 1
}
async fn double(n: u32) -> u32 {
    n * 2
}
fn triple(n: u32) -> Result<u32, std::io::Error> {
    Ok(n * 3)
}
async fn halve(n: u32) -> Result<u32, PlanError> {
    Ok(n / 2)
}
fn sum3((a, b, c): (u32, u32, u32)) -> u32 {
    a + b + c
}
fn fail_odd(n: u32) -> Result<u32, String> {
    if n % 2 == 1 { Err(format!("{n} is odd")) } else { Ok(n) }
}
fn recover((a, b): (Result<u32, PlanError>, Result<u32, PlanError>)) -> u32 {
    a.unwrap_or(0) + b.unwrap_or(0)
}
fn score(n: &u32) -> u32 {
    *n
}
fn keep_ok(all: Vec<Result<u32, PlanError>>) -> Vec<u32> {
    all.into_iter().filter_map(Result::ok).collect()
}
fn is_even(n: &u32) -> bool {
    n % 2 == 0
}
fn is_big(n: &u32) -> bool {
    *n > 1000
}
fn size(n: &u32) -> Size {
    match *n {
        0..10 => Size::Small,
        10..100 => Size::Medium,
        _ => Size::Large,
    }
}
fn heavy(n: u32) -> u32 {
    (0..n % 7).sum::<u32>() + n
}
fn start(n: u32) -> State {
    State { count: n, passes: 0 }
}
fn bump(mut s: State) -> State {
    s.passes += 1;
    s
}
fn done(s: &State) -> bool {
    s.passes >= 2
}
fn not_done(s: &State) -> bool {
    s.passes < 4
}
fn finish(s: State) -> u32 {
    s.count + s.passes
}
fn add(k: u32) -> impl Fn(u32) -> u32 + Clone + Send + Sync {
    move |n| n + k
}

fn main() {
    let sub = plan! { inc >> double };
    let everything = plan! {
        #![name = "everything"]
        parse
        >> seq { inc >> inc }
        >> par(all) { double, triple, (|n: u32| n + 1) }
        >> sum3
        >> par(settled) { double, fail_odd }
        >> recover
        >> par(first) { double, triple >> inc }
        >> par(first_completed, timeout = 1s) { double, halve }
        >> par(n_best(2, by = score)) { double, triple, inc }
        >> each(all, limit = 2) { inc >> double }
        >> each(settled) { fail_odd }
        >> keep_ok
        >> each(best(by = score), timeout = 1s, limit = 4) { double }
        >> par { inc, double }
        >> (|(a, b): (u32, u32)| a + b)
        >> par(quorum(2, by = score)) { double, double, inc }
        >> (|agreed: Quorum<u32>| vec![agreed.output; 3])
        >> each(quorum(2)) { double }
        >> (|agreed: Quorum<u32>| vec![agreed.output; 3])
        >> each(all) { #[hedge(after = p95, max_delay = 1s, share = 10%)] inc }
        >> (|all: Vec<u32>| all.iter().sum::<u32>())
        >> #[hedge(after = 50ms, max = 2)] double
        >> choose { if is_even => double, if is_big => inc >> inc, else => triple }
        >> choose(size) { Size::Small => double, Size::Medium | Size::Large => inc }
        >> blocking(heavy)
        >> start
        >> focus(State::count) { inc >> double }
        >> loop(until = done, max = 5) { bump }
        >> loop(while = not_done, max = 3, on_limit = stop) { bump }
        >> #[timeout(250ms)] #[retry(3, backoff = 10ms)] #[name = "finish"] finish
        >> sub
        >> add(3)
    };

    let graph = everything.graph();
    assert!(!graph.to_mermaid().is_empty());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out: u32 = rt.block_on(everything.run("4".to_string())).unwrap();
    let _ = out;
}
