//! Remote steps on the in-process engine: typed, checked against what the workers serve,
//! named in reports and errors with their worker, and spending from the run's budget.

use plan_remote::{Local, Registry, Remote, RemoteError};
use plan_runtime::budget::{Budget, Charge};
use plan_runtime::prelude::*;
use plan_runtime::{Cx, Describe, NodeRef, Plan, PlanError};

fn square(n: u32) -> u64 {
    u64::from(n) * u64::from(n)
}

fn total(squares: Vec<u64>) -> u64 {
    squares.iter().sum()
}

#[derive(Debug, thiserror::Error)]
#[error("{0} is odd")]
struct Odd(u32);

fn even(n: u32) -> Result<u32, Odd> {
    if n.is_multiple_of(2) {
        Ok(n)
    } else {
        Err(Odd(n))
    }
}

/// Spends one request of the run's budget, then doubles.
struct Spend;
impl Describe for Spend {}
impl Plan<u32> for Spend {
    type Out = u32;
    async fn call(&self, n: u32, cx: Cx<'_, ()>) -> Result<u32, PlanError> {
        let budget = cx
            .extension::<Budget>()
            .expect("the worker's run has a budget");
        let call = budget
            .admit(&Charge::request())
            .map_err(|e| PlanError::step(NodeRef::current(&cx), e))?;
        call.settle(&Charge::request());
        Ok(n * 2)
    }
}

/// Fails its first two calls (in this process), then passes its input on.
struct Flaky(std::sync::atomic::AtomicU32);
impl Describe for Flaky {}
impl Plan<u32> for Flaky {
    type Out = u32;
    async fn call(&self, n: u32, cx: Cx<'_, ()>) -> Result<u32, PlanError> {
        let call = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if call < 2 {
            return Err(PlanError::step(NodeRef::current(&cx), Odd(call)));
        }
        Ok(n)
    }
}

async fn remote() -> Remote {
    let registry = Registry::new()
        .step("square", plan! { square })
        .step("even", plan! { even })
        .step("spend", Spend)
        .step("flaky", Flaky(std::sync::atomic::AtomicU32::new(0)));
    Remote::new(Local::new(registry).worker("w1"))
}

#[tokio::test]
async fn a_remote_step_is_a_step_of_the_plan_with_its_worker_in_the_report() {
    let square = remote().await.step::<u32, u64>("square").await.unwrap();
    let sum = plan! { each(all) { #[name = "square"] (square.clone()) } >> total };
    assert!(sum.graph().to_mermaid().contains("square"));
    let (out, report) = sum.run(vec![1, 2, 3]).reported().await;
    assert_eq!(out.unwrap(), 14);
    let squares: Vec<_> = report.nodes.iter().filter(|n| n.name == "square").collect();
    assert_eq!(squares.len(), 3);
    for node in squares {
        assert_eq!(node.notes, vec![("worker", "w1".to_owned())]);
    }
    assert!(report.timeline().to_string().contains("worker w1"));
}

#[tokio::test]
async fn its_errors_name_the_node_and_the_worker() {
    let even = remote().await.step::<u32, u32>("even").await.unwrap();
    let plan = plan! { #[name = "check"] (even) };
    assert_eq!(plan.run(4).await.unwrap(), 4);
    let err = plan.run(3).await.unwrap_err();
    assert_eq!(err.node().name, "check");
    let remote = err.step_error::<RemoteError>().unwrap();
    assert!(
        matches!(remote, RemoteError::Failed { step, worker, message }
            if step == "even" && worker == "w1" && message.contains("3 is odd")),
        "{remote}"
    );
}

#[tokio::test]
async fn a_step_no_worker_serves_or_serves_with_other_types_is_refused_when_made() {
    let remote = remote().await;
    let err = remote.step::<u32, u32>("cube").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no worker serves step `cube` (this process): start a worker whose registry has it"
    );
    let err = remote.step::<String, u64>("square").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "step `square` is served as `u32 -> u64`, but the plan calls it as `String -> u64`: \
         give both sides the same input and output types"
    );
}

#[tokio::test]
async fn the_run_s_budget_reaches_the_worker_and_what_it_spent_comes_back() {
    let spend = remote().await.step::<u32, u32>("spend").await.unwrap();
    let three = plan! { #[name = "spend"] (spend.clone()) >> #[name = "again"] (spend.clone()) >> #[name = "third"] (spend.clone()) };
    let budget = Budget::new().requests(2);
    let err = three.run(1).with(&budget).await.unwrap_err();
    // The worker's run had what was left: the third call found it spent.
    assert_eq!(err.node().name, "third");
    assert!(
        err.to_string().contains("budget of 0 requests is spent"),
        "{err}"
    );
    assert_eq!(budget.spent().requests, 2);
}

#[tokio::test(start_paused = true)]
async fn retries_and_deadlines_around_a_remote_step_work_as_around_any_step() {
    let flaky = remote().await.step::<u32, u32>("flaky").await.unwrap();
    let plan = plan! { #[retry(3)] #[name = "flaky"] (flaky.clone()) };
    let (out, report) = plan.run(9).reported().await;
    assert_eq!(out.unwrap(), 9);
    let node = report.nodes.iter().find(|n| n.name == "flaky").unwrap();
    assert_eq!(node.attempts, 3);

    let square = remote().await.step::<u32, u64>("square").await.unwrap();
    let plan = plan! { #[timeout(1s)] #[name = "square"] (square.clone()) };
    assert_eq!(plan.run(3).await.unwrap(), 9);
}
