//! Plans as values: `Box`, `Arc` and `&` of a plan as steps of a `plan!`, and `BoxPlan`, a
//! plan with its type erased, in a `Vec`, a registry, a struct, a trait and across tasks —
//! each still running, describing itself and naming its nodes as the plan inside.

use std::collections::HashMap;
use std::sync::Arc;

use plan_runtime::prelude::*;
use plan_runtime::{NodeKind, NodeRef};

fn parse(text: &'static str) -> u32 {
    text.trim().parse().unwrap_or(0)
}

fn add_one(x: u32) -> u32 {
    x + 1
}

fn double(x: u32) -> u32 {
    x * 2
}

#[derive(Debug, PartialEq)]
struct Odd(u32);

impl std::fmt::Display for Odd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is odd", self.0)
    }
}

impl std::error::Error for Odd {}

fn even_only(x: u32) -> Result<u32, Odd> {
    if x.is_multiple_of(2) {
        Ok(x)
    } else {
        Err(Odd(x))
    }
}

fn step_node(err: &PlanError) -> &NodeRef {
    match err {
        PlanError::Step { node, .. } => node,
        other => panic!("expected a step error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Pointers to plans are steps.

#[tokio::test]
async fn an_arc_of_a_plan_is_a_step_and_names_its_nodes_through_the_outer_plan() {
    let inner: Arc<_> = Arc::new(plan! { add_one >> even_only });
    let outer = plan! { parse >> (inner.clone()) >> double };
    // "1" -> 1 -> 2 (even) -> 4
    assert_eq!(outer.run("1").await.unwrap(), 4);
    // "2" -> 2 -> 3 (odd): the step inside the `Arc` is named below the outer step.
    let err = outer.run("2").await.unwrap_err();
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(3)));
    assert_eq!(step_node(&err).name, "even_only");
    assert_eq!(step_node(&err).path, "1/1");
    // The outer plan holds a handle, not a copy.
    assert_eq!(Arc::strong_count(&inner), 2);
}

#[tokio::test]
async fn a_box_of_a_plan_is_a_step() {
    let inner: Box<_> = Box::new(plan! { add_one >> even_only });
    let outer = plan! { parse >> inner >> double };
    assert_eq!(outer.run("3").await.unwrap(), 8);
    let err = outer.run("4").await.unwrap_err();
    assert_eq!(step_node(&err).path, "1/1");
}

#[tokio::test]
async fn a_borrowed_plan_is_a_step_as_often_as_it_is_used() {
    let inner = plan! { add_one >> even_only };
    let outer = plan! { parse >> (&inner) >> add_one >> (&inner) };
    // "1" -> 1 -> 2 -> 3 -> 4 -> 4
    assert_eq!(outer.run("1").await.unwrap(), 4);
    // "0" -> 0 -> 1 (odd), in the first use.
    let err = outer.run("0").await.unwrap_err();
    assert_eq!(step_node(&err).path, "1/1");
    // "3" -> 3 -> 4 -> 5 -> 6 -> 6
    assert_eq!(outer.run("3").await.unwrap(), 6);
    // A leaked plan is `&'static` and nests like any other.
    let leaked: &'static _ = Box::leak(Box::new(plan! { double }));
    let twice = plan! { parse >> leaked >> (leaked) };
    assert_eq!(twice.run("5").await.unwrap(), 20);
}

#[test]
fn a_pointer_to_a_plan_describes_itself_as_the_plan() {
    let inner = plan! { #![name = "inner"] add_one >> even_only };
    let direct = plan! { parse >> (inner.clone()) >> double };
    let through_arc = plan! { parse >> (Arc::new(inner.clone())) >> double };
    let through_box = plan! { parse >> (Box::new(inner.clone())) >> double };
    // Every node but the outer step, which is named after its source text.
    let paths = |graph: plan_runtime::PlanGraph| -> Vec<(String, &'static str)> {
        let nodes = graph.nodes.into_iter().filter(|n| !n.name.starts_with('('));
        nodes.map(|n| (n.path, n.name)).collect()
    };
    let expected = paths(direct.graph());
    assert_eq!(expected.len(), 6);
    assert!(expected.contains(&("1/1".to_owned(), "even_only")));
    assert_eq!(paths(through_arc.graph()), expected);
    assert_eq!(paths(through_box.graph()), expected);
    assert_eq!(
        Arc::new(inner.clone()).info().map(|i| i.kind),
        Some(NodeKind::Plan)
    );
    assert_eq!(Box::new(inner).info().map(|i| i.name), Some("inner"));
}

// ---------------------------------------------------------------------------------------------
// BoxPlan.

/// Two plans of different types behind one.
fn pipelines() -> Vec<BoxPlan<&'static str, u32>> {
    vec![
        plan! { #![name = "twice"] parse >> double }.boxed(),
        plan! { #![name = "checked"] parse >> add_one >> even_only }.boxed(),
    ]
}

#[tokio::test]
async fn boxed_plans_of_different_types_run_from_one_vec() {
    let mut outs = Vec::new();
    for plan in pipelines() {
        outs.push(plan.run("4").await.map_err(|e| e.to_string()));
    }
    assert_eq!(outs[0], Ok(8));
    let err = outs[1].as_ref().unwrap_err();
    assert!(
        err.starts_with("`even_only` (step at 2, plan-runtime/tests/boxed.rs:"),
        "{err}"
    );
    assert!(err.ends_with("failed: 5 is odd"), "{err}");
}

#[tokio::test]
async fn a_registry_of_boxed_plans_hands_out_shared_copies() {
    let registry: HashMap<String, BoxPlan<&'static str, u32>> = pipelines()
        .into_iter()
        .map(|plan| (plan.info().unwrap().name.to_owned(), plan))
        .collect();
    let twice = registry["twice"].clone();
    assert_eq!(twice.run("21").await.unwrap(), 42);
    assert_eq!(registry["checked"].run("1").await.unwrap(), 2);
    assert!(!registry.contains_key("plan"));
}

#[tokio::test]
async fn a_boxed_plan_nested_in_a_plan_names_its_nodes_with_full_paths() {
    let plan = plan! { #![name = "checked"] parse >> add_one >> even_only };
    let graph = plan.graph().to_mermaid();
    let checked = plan.boxed();
    assert_eq!(checked.graph().to_mermaid(), graph);
    let outer = plan! { (checked.clone()) >> double };
    assert_eq!(outer.run("3").await.unwrap(), 8);
    let err = outer.run("2").await.unwrap_err();
    assert_eq!(step_node(&err).name, "even_only");
    assert_eq!(step_node(&err).path, "0/2");
}

#[tokio::test]
async fn a_boxed_plan_reports_its_nodes() {
    let plan = plan! { parse >> par(all) { add_one, double } }.boxed();
    let (out, report) = plan.run("4").reported().await;
    assert_eq!(out.unwrap(), (5, 8));
    let paths: Vec<(&str, &str)> = report
        .nodes
        .iter()
        .map(|n| (n.name, n.path.as_ref()))
        .collect();
    assert!(paths.contains(&("double", "1/1")), "{paths:?}");
    assert!(paths.contains(&("par", "1")), "{paths:?}");
}

#[derive(Debug)]
struct Config {
    step: u32,
}

fn add_step(x: u32, cfg: &Config) -> u32 {
    x + cfg.step
}

#[tokio::test]
async fn a_boxed_plan_takes_a_context() {
    let plan: BoxPlan<u32, u32, Config> = plan! { add_step >> add_step }.boxed();
    assert_eq!(plan.run(1).ctx(&Config { step: 10 }).await.unwrap(), 21);
}

#[tokio::test]
async fn a_boxed_plan_is_shared_across_tasks() {
    let plan = plan! { add_one >> double }.boxed();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let plan = plan.clone();
            tokio::spawn(async move { plan.run(i).await })
        })
        .collect();
    let mut outs = Vec::new();
    for task in tasks {
        outs.push(task.await.unwrap().unwrap());
    }
    assert_eq!(outs, [2, 4, 6, 8]);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_boxed_run_cancels_it() {
    async fn slow(x: u32) -> u32 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        x
    }
    let plan = plan! { add_one >> slow }.boxed();
    let err = plan
        .run(1)
        .until(tokio::time::sleep(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
}

/// Something that builds plans, behind a trait object.
trait Stage: Send + Sync {
    fn plan(&self) -> BoxPlan<u32, u32>;
}

struct Scale(u32);

impl Stage for Scale {
    fn plan(&self) -> BoxPlan<u32, u32> {
        let by = self.0;
        plan! { (move |x: u32| x * by) }.boxed()
    }
}

struct Checked;

impl Stage for Checked {
    fn plan(&self) -> BoxPlan<u32, u32> {
        plan! { even_only }.boxed()
    }
}

/// A struct holding a plan and the stages that made it.
struct Service {
    stages: Vec<Box<dyn Stage>>,
    pipeline: BoxPlan<u32, u32>,
}

#[tokio::test]
async fn boxed_plans_come_from_trait_methods_and_live_in_structs() {
    let stages: Vec<Box<dyn Stage>> = vec![Box::new(Scale(3)), Box::new(Checked)];
    let first = stages[0].plan();
    let second = stages[1].plan();
    let service = Service {
        pipeline: plan! { first >> second }.boxed(),
        stages,
    };
    assert_eq!(service.pipeline.run(2).await.unwrap(), 6);
    let err = service.pipeline.run(1).await.unwrap_err();
    assert_eq!(err.step_error::<Odd>(), Some(&Odd(3)));
    assert_eq!(step_node(&err).path, "1/0");
    assert_eq!(service.stages.len(), 2);
}

#[test]
fn debug_names_the_boxed_plan() {
    let plan: BoxPlan<u32, u32> = plan! { #![name = "double"] double }.boxed();
    assert_eq!(
        format!("{plan:?}"),
        r#"BoxPlan { name: Some("double"), .. }"#
    );
    // Boxing a `BoxPlan` again returns it as it is.
    assert_eq!(
        format!("{:?}", plan.boxed()),
        r#"BoxPlan { name: Some("double"), .. }"#
    );
}

#[test]
fn a_boxed_plan_is_a_shareable_value() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<BoxPlan<String, Vec<u8>>>();
    shareable::<BoxPlan<u32, u32, Config>>();
}
