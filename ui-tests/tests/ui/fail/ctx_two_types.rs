// Every step of a plan gets the one context a run is given (`.ctx(&ctx)`).
use plan_runtime::prelude::*;

struct Http;
struct Db;

async fn fetch(url: String, _http: &Http) -> String {
    url
}
async fn store(page: String, _db: &Db) -> usize {
    page.len()
}

fn main() {
    let plan = plan! { fetch >> store };
    let _ = plan.run(String::new()).ctx(&Http);
}
