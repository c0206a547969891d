//! A durable run's budget: what it spent is journaled with it, so a second attempt — after a
//! crash, or after the budget refused a call — continues from what was spent and never
//! starts with a full budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use plan_runtime::budget::{Budget, BudgetExceeded, Charge};
use plan_runtime::prelude::*;
use plan_runtime::run::Options;
use plan_runtime::{Cx, NodeRef};
use plan_state::runs::{RunError, Runs};
use plan_state::store::InMemory;

/// A call that spends one request of the run's budget, counting the calls that were made.
#[derive(Clone, Default)]
struct Call {
    sent: Arc<AtomicUsize>,
}

impl Describe for Call {}

impl Plan<u32> for Call {
    type Out = u32;
    async fn call(&self, n: u32, cx: Cx<'_, ()>) -> Result<u32, PlanError> {
        let budget = cx.extension::<Budget>().expect("the run carries a budget");
        let call = budget
            .admit(&Charge::request())
            .map_err(|e| PlanError::step(NodeRef::current(&cx), e))?;
        self.sent.fetch_add(1, Ordering::SeqCst);
        call.settle(&Charge::request());
        Ok(n + 1)
    }
}

fn refused_by_budget(err: &RunError) -> bool {
    matches!(err, RunError::Failed { source, .. }
        if source.step_error::<BudgetExceeded>() == Some(&BudgetExceeded::Requests { limit: 1 }))
}

#[tokio::test]
async fn a_run_its_budget_refused_is_refused_again_with_a_fresh_budget() {
    let call = Call::default();
    let plan =
        plan! { #![durable] #[name = "first"] (call.clone()) >> #[name = "second"] (call.clone()) };
    let runs = Runs::new(InMemory::new());

    let err = runs
        .run(&plan, "r", 0)
        .with(&Budget::new().requests(1))
        .await
        .unwrap_err();
    assert!(refused_by_budget(&err), "{err}");
    assert_eq!(call.sent.load(Ordering::SeqCst), 1);

    // A new process would bring a new budget: the run still has only its one request.
    let fresh = Budget::new().requests(1);
    let err = runs.run(&plan, "r", 0).with(&fresh).await.unwrap_err();
    assert!(refused_by_budget(&err), "{err}");
    assert_eq!(
        call.sent.load(Ordering::SeqCst),
        1,
        "`first` replayed, `second` refused"
    );
    assert_eq!(
        fresh.spent().requests,
        1,
        "the journaled spending was restored"
    );

    // A budget with room for the whole run finishes it, with one more request.
    let bigger = Budget::new().requests(2);
    let out = runs.run(&plan, "r", 0).with(&bigger).await.unwrap();
    assert_eq!(out.done(), Some(2));
    assert_eq!(call.sent.load(Ordering::SeqCst), 2);
    assert_eq!(bigger.spent().requests, 2);
}

#[tokio::test]
async fn a_budget_in_options_is_journaled_and_restored_too() {
    let call = Call::default();
    let plan =
        plan! { #![durable] #[name = "first"] (call.clone()) >> #[name = "second"] (call.clone()) };
    let runs = Runs::new(InMemory::new());
    let budget = Arc::new(Budget::new().requests(1));
    let options = Options::new().shared(Arc::clone(&budget));
    assert!(runs.run(&plan, "o", 0).options(&options).await.is_err());

    let fresh = Options::new().shared(Arc::new(Budget::new().requests(1)));
    let err = runs.run(&plan, "o", 0).options(&fresh).await.unwrap_err();
    assert!(refused_by_budget(&err), "{err}");
    assert_eq!(call.sent.load(Ordering::SeqCst), 1);
}
