use plan_runtime::prelude::*;

struct Answer(String);

fn answer(text: String) -> Answer {
    Answer(text)
}
async fn publish(a: Answer) -> usize {
    a.0.len()
}

fn main() {
    let plan = plan! { answer >> #[retry(3, backoff = 100ms)] publish };
    let _ = plan.run(String::new());
}
