// A hand-written `Plan` step: its output is checked against the next step too.
use plan_runtime::prelude::*;
use plan_runtime::Cx;

struct Tokenize;
impl Describe for Tokenize {}
impl<C: Sync> Plan<String, C> for Tokenize {
    type Out = Vec<String>;
    async fn call(&self, input: String, _: Cx<'_, C>) -> Result<Vec<String>, PlanError> {
        Ok(input.split(' ').map(String::from).collect())
    }
}

fn trim(s: String) -> String {
    s
}
fn total(n: usize) -> usize {
    n
}

fn main() {
    let plan = plan! { trim >> (Tokenize) >> total };
    let _ = plan.run(String::new());
}
