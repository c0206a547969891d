use plan_runtime::prelude::*;

fn parse(text: String) -> u32 {
    text.len() as u32
}
fn fetch(n: u32) -> u32 {
    n + 1
}
fn store(n: u32) -> u32 {
    n * 2
}

struct Client;
impl Client {
    fn search(&self, n: u32) -> u32 {
        n
    }
}

fn main() {
    let client = Client;
    let _plan = plan! {
        parse >> client.search >> fetch
    };
}
