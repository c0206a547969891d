use plan_runtime::layer::Middleware;
use plan_runtime::prelude::*;
use plan_runtime::Cx;

#[derive(Clone)]
struct Audit;

impl Describe for Audit {}
impl<I: Send, O: Send, C: Sync> Middleware<I, O, C> for Audit {
    async fn around<P>(&self, input: I, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
    where
        P: Plan<I, C, Out = O>,
    {
        next.call(input, cx).await
    }
}

fn double(n: u32) -> u32 {
    n * 2
}

fn main() {
    // A middleware, not yet a layer: `around(Audit)` is.
    let plan = plan! { #[layer(Audit)] double };
    let _ = plan.run(1);
}
