// A mismatch twelve steps into a chain is reported on that step, once.
use plan_runtime::prelude::*;

fn count_tokens(text: String) -> usize {
    text.len()
}
fn step(n: usize) -> usize {
    n + 1
}
fn embed(words: Vec<String>) -> Vec<f32> {
    vec![words.len() as f32]
}
fn norm(v: Vec<f32>) -> f32 {
    v.iter().sum()
}

fn main() {
    let plan = plan! {
        count_tokens >> step >> step >> step >> step >> step >> step >> step >> step >> step
        >> step >> embed >> norm
    };
    let _ = plan.run(String::new());
}
