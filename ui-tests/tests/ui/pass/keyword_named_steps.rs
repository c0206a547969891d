//! Plan keywords are keywords only where they open a construct: steps may be called `first`,
//! `best`, `all`, `par`, `seq`, `each`, `focus`, `choose` or `blocking`, and policies' words
//! may be used in expressions inside options.

use plan_runtime::prelude::*;

mod steps {
    pub fn par(n: u32) -> u32 {
        n + 1
    }
}

fn first(n: u32) -> u32 {
    n + 1
}
fn best(n: u32) -> u32 {
    n * 2
}
fn all(n: u32) -> u32 {
    n + 3
}
fn seq(n: u32) -> u32 {
    n
}
fn each(n: u32) -> u32 {
    n
}
fn focus(n: u32) -> u32 {
    n
}
fn choose(n: u32) -> u32 {
    n
}
fn settled(n: &u32) -> u32 {
    *n
}
fn limit() -> usize {
    2
}

fn main() {
    let plan = plan! {
        first
        >> best
        >> all
        >> seq
        >> each
        >> focus
        >> choose
        >> steps::par
        >> par(first) { first, best >> all }
        >> par(n_best(1, by = settled), limit = limit()) { first, best }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out: Vec<u32> = rt.block_on(plan.run(1)).unwrap();
    assert_eq!(out.len(), 1);
}
