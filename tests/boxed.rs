//! Plans as values: `Box`, `Arc` and `&` of a plan as steps of a `plan!`, still running,
//! describing itself and naming its nodes as the plan inside.

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
    if x % 2 == 0 { Ok(x) } else { Err(Odd(x)) }
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
    assert_eq!(Arc::new(inner.clone()).info().map(|i| i.kind), Some(NodeKind::Plan));
    assert_eq!(Box::new(inner).info().map(|i| i.name), Some("inner"));
}
