use plan_runtime::prelude::*;

struct Page(String);

fn page(t: String) -> Page {
    Page(t)
}
fn words(w: String) -> usize {
    w.len()
}

fn main() {
    let plan = plan! { page >> each(all) { words } };
    let _ = plan.run(String::new());
}
