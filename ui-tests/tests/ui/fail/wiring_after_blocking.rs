use plan_runtime::prelude::*;

fn load(_: u32) -> Vec<u8> {
    vec![1, 2, 3]
}
fn checksum(data: Vec<u8>) -> u64 {
    data.iter().map(|&b| u64::from(b)).sum()
}
fn label(s: String) -> String {
    s
}

fn main() {
    let plan = plan! { load >> blocking(checksum) >> label };
    let _ = plan.run(1);
}
