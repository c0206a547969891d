use plan_runtime::prelude::*;

fn parse(text: String) -> u32 {
    text.len() as u32
}
async fn search_web(n: u32) -> String {
    format!("web {n}")
}
async fn search_code(n: u32) -> Vec<u8> {
    vec![n as u8]
}
fn merge((web, code): (String, String)) -> usize {
    web.len() + code.len()
}

#[tokio::main]
async fn main() {
    let plan = plan! { parse >> par(all) { search_web, search_code } >> merge };
    let _ = plan.run(String::new()).await;
}
