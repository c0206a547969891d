use plan_runtime::prelude::*;

async fn mirror_a(url: String) -> String {
    url
}
async fn mirror_b(url: String) -> Vec<u8> {
    url.into_bytes()
}

fn main() {
    let plan = plan! { par(first) { mirror_a, mirror_b } };
    let _ = plan.run(String::new());
}
