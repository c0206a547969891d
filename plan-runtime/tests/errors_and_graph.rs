//! Errors name their node (name, path, `file:line`); the plan graph, its renderings, and the
//! `tracing` span every node runs in.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex};

use plan_runtime::prelude::*;
use plan_runtime::{GraphNode, NodeKind, NodeRef, PlanGraph, PolicyKind, RetryInfo};

/// This file's text, to find where things are written in it.
const SOURCE: &str = include_str!("errors_and_graph.rs");

/// The 1-based column of the first `needle` on 1-based `line` of this file.
fn column_of(line: u32, needle: &str) -> u32 {
    let text = SOURCE
        .lines()
        .nth(line as usize - 1)
        .expect("line in this file");
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` on line {line}: {text}"));
    u32::try_from(at).unwrap() + 1
}

/// The first line at or after `from` holding `needle`, and its column there.
fn locate(from: u32, needle: &str) -> (u32, u32) {
    let line = SOURCE
        .lines()
        .enumerate()
        .skip(from as usize - 1)
        .find(|(_, text)| text.contains(needle))
        .map(|(index, _)| u32::try_from(index).unwrap() + 1)
        .unwrap_or_else(|| panic!("`{needle}` after line {from}"));
    (line, column_of(line, needle))
}

#[derive(Debug, PartialEq, Eq)]
struct Odd(u32);

impl fmt::Display for Odd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is odd", self.0)
    }
}

impl StdError for Odd {}

fn add_one(x: u32) -> u32 {
    x + 1
}

fn even_only(x: u32) -> Result<u32, Odd> {
    if x.is_multiple_of(2) {
        Ok(x)
    } else {
        Err(Odd(x))
    }
}

async fn slow(x: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    x
}

async fn fail_a(x: u32) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Err(format!("a failed on {x}"))
}

async fn fail_b(x: u32) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    Err(format!("b failed on {x}"))
}

fn never(_: &u32) -> bool {
    false
}

fn boom(x: u32) -> u32 {
    panic!("boom on {x}")
}

/// Checks a node's identity: name, kind, path, and that its location is `needle` on `line` of
/// this file.
fn assert_node(node: &NodeRef, name: &str, kind: NodeKind, path: &str, line: u32, needle: &str) {
    assert_eq!(node.name, name, "{node:?}");
    assert_eq!(node.kind, kind, "{node:?}");
    assert_eq!(node.path, path, "{node:?}");
    assert_eq!(node.location.file, file!(), "{node:?}");
    assert_eq!(node.location.line, line, "{node:?}");
    assert_eq!(node.location.column, column_of(line, needle), "{node:?}");
}

/// `Display` is one log line naming the node, its path and `file:line:column`.
fn assert_log_line(err: &PlanError, shows: &[&str]) {
    let text = err.to_string();
    let node = err.node();
    assert!(!text.contains('\n'), "one line: {text:?}");
    assert!(!text.contains("NodeRef"), "no Debug output: {text}");
    // An unnamed construct goes by its keyword and policy: the callers say which.
    if node.label().is_named() {
        assert!(text.contains(&format!("`{}`", node.name)), "{text}");
    }
    let path = if node.path.is_empty() {
        "root"
    } else {
        &node.path
    };
    assert!(text.contains(path), "{text}");
    assert!(
        text.contains(&format!("{}:{}:", file!(), node.location.line)),
        "{text}"
    );
    assert!(text.contains(&node.location.to_string()), "{text}");
    for expected in shows {
        assert!(text.contains(expected), "`{expected}` in {text}");
    }
}

const _: fn() = || {
    fn is_a_shareable_error<T: StdError + Clone + Send + Sync + 'static>() {}
    is_a_shareable_error::<PlanError>();
};

// ---------------------------------------------------------------------------------------------
// Each variant, from a real run, naming its node.

#[tokio::test]
async fn step_error_names_the_step_and_where_it_is_written() {
    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { add_one >> even_only >> add_one });
    let err = p.run(2).await.unwrap_err();
    assert!(matches!(err, PlanError::Step { .. }));
    assert_node(
        err.node(),
        "even_only",
        NodeKind::Step,
        "1",
        line,
        "even_only",
    );
    assert_log_line(&err, &["step at 1", "3 is odd"]);
    assert_eq!(
        err.to_string(),
        format!(
            "`even_only` (step at 1, {}:{line}:{}) failed: 3 is odd",
            file!(),
            column_of(line, "even_only")
        )
    );
}

#[tokio::test]
async fn a_named_step_is_named_by_its_name() {
    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { add_one >> #[name = "validate"] even_only });
    let err = p.run(2).await.unwrap_err();
    assert_node(
        err.node(),
        "validate",
        NodeKind::Step,
        "1",
        line,
        "even_only",
    );
    assert_log_line(&err, &["`validate`"]);
}

#[tokio::test(start_paused = true)]
async fn timeout_names_the_step_or_the_group() {
    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { add_one >> #[timeout(50ms)] slow });
    let err = p.run(1).await.unwrap_err();
    match &err {
        PlanError::Timeout { after, .. } => assert_eq!(*after, Duration::from_millis(50)),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(err.is_timeout());
    assert_node(err.node(), "slow", NodeKind::Step, "1", line, "slow");
    assert_log_line(&err, &["timed out after 50ms"]);

    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { add_one >> par(all, timeout = 20ms) { slow, slow } });
    let err = p.run(1).await.unwrap_err();
    assert!(err.is_timeout());
    assert_node(err.node(), "par", NodeKind::Par, "1", line, "par(");
    assert_log_line(&err, &["`par(all)` (par at 1, ", "20ms"]);
    assert_eq!(
        err.to_string(),
        format!(
            "`par(all)` (par at 1, {}:{line}:50) timed out after 20ms",
            file!()
        )
    );
}

#[tokio::test(start_paused = true)]
async fn cancelled_names_the_plan() {
    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { #![name = "research"] add_one >> slow });
    let token = CancellationToken::new();
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        canceller.cancel();
    });
    let err = p.run(1).until(token.cancelled()).await.unwrap_err();
    assert!(err.is_cancelled());
    assert_node(err.node(), "research", NodeKind::Plan, "", line, "plan!");
    assert_log_line(&err, &["root", "cancelled"]);
}

#[tokio::test(start_paused = true)]
async fn all_failed_names_the_group_and_keeps_every_error_in_branch_order() {
    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { par(first) { fail_a, fail_b } });
    let err = p.run(1).await.unwrap_err();
    assert_node(err.node(), "par", NodeKind::Par, "0", line, "par(");
    let PlanError::AllFailed { errors, .. } = &err else {
        panic!("expected AllFailed, got {err:?}");
    };
    assert_eq!(errors.len(), 2);
    assert_node(
        errors[0].node(),
        "fail_a",
        NodeKind::Step,
        "0/0",
        line,
        "fail_a",
    );
    assert_node(
        errors[1].node(),
        "fail_b",
        NodeKind::Step,
        "0/1",
        line,
        "fail_b",
    );
    assert!(errors[0].to_string().contains("a failed on 1"));
    assert!(errors[1].to_string().contains("b failed on 1"));
    assert_log_line(
        &err,
        &["`par(first)` (par at 0, ", "2 errors", "a failed on 1"],
    );
}

#[tokio::test]
async fn loop_limit_names_the_loop() {
    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { add_one >> loop(until = never, max = 2) { add_one } });
    let err = p.run(1).await.unwrap_err();
    assert!(matches!(err, PlanError::LoopLimit { max: 2, .. }));
    assert_node(err.node(), "loop", NodeKind::Loop, "1", line, "loop(");
    assert_log_line(&err, &["limit of 2"]);
}

#[tokio::test]
async fn panicked_names_the_step() {
    #[rustfmt::skip]
    let (line, p) = (line!(), plan! { add_one >> par(all) { add_one, boom } });
    let err = p.run(1).await.unwrap_err();
    assert!(err.is_panic());
    assert_node(err.node(), "boom", NodeKind::Step, "1/1", line, "boom");
    assert_log_line(&err, &["panicked", "boom on 2"]);
}

#[tokio::test]
async fn errors_inside_multi_line_plans_point_at_their_own_line() {
    let from = line!();
    let p = plan! {
        add_one
        >> add_one
        >> seq { add_one >> even_only }
    };
    // 2 -> 3 -> 4 -> 5 (odd)
    let err = p.run(2).await.unwrap_err();
    let (line, _) = locate(from + 1, "seq { add_one >> even_only }");
    assert_node(
        err.node(),
        "even_only",
        NodeKind::Step,
        "2/1",
        line,
        "even_only",
    );
    assert_log_line(&err, &["5 is odd"]);
}

// ---------------------------------------------------------------------------------------------
// Debug: what `fn main() -> Result<(), PlanError>` prints, as `Error: {err:?}`.

/// A connection failure, as an HTTP client reports it: its cause has a cause.
#[derive(Debug, thiserror::Error)]
#[error("request to {0} failed")]
struct Request(&'static str, #[source] Connect);

#[derive(Debug, thiserror::Error)]
#[error("could not connect")]
struct Connect(#[source] std::io::Error);

fn refused() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused")
}

async fn fetch(_: u32) -> Result<u32, Request> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    Err(Request("example.org", Connect(refused())))
}

async fn fetch_once(_: u32) -> Result<u32, Connect> {
    Err(Connect(refused()))
}

/// What `fn main() -> Result<(), PlanError>` prints when it returns `Err(err)` (std's
/// `Termination` for `Result` writes `Error: {err:?}`).
fn main_output(err: &PlanError) -> String {
    format!("Error: {err:?}")
}

/// A step error is its log line, then its causes beyond the one the line shows, numbered when
/// there are several (as anyhow prints them).
#[tokio::test(start_paused = true)]
async fn debug_is_the_line_then_the_causes() {
    let (line, p) = (line!(), plan! { add_one >> fetch });
    let err = p.run(1).await.unwrap_err();
    assert_eq!(
        main_output(&err),
        format!(
            "\
Error: `fetch` (step at 1, {file}:{line}:50) failed: request to example.org failed

Caused by:
    0: could not connect
    1: connection refused",
            file = file!(),
        )
    );

    let (line, p) = (line!(), plan! { fetch_once });
    let err = p.run(1).await.unwrap_err();
    assert_eq!(
        main_output(&err),
        format!(
            "\
Error: `fetch_once` (step at 0, {file}:{line}:39) failed: could not connect

Caused by:
    connection refused",
            file = file!(),
        )
    );
}

/// Errors without causes print their log line alone: a timeout (the node's own, or a group's
/// that cut a branch off), a loop limit, a panic.
#[tokio::test(start_paused = true)]
async fn debug_of_an_error_without_causes_is_its_line() {
    let timed_out = plan! { #[timeout(50ms)] slow }.run(1).await.unwrap_err();
    let (settled, _) = plan! { par(settled, timeout = 20ms) { slow, add_one } }
        .run(1)
        .await
        .unwrap();
    let cut_off = settled.unwrap_err();
    let limit = plan! { loop(until = never, max = 2) { add_one } }
        .run(1)
        .await
        .unwrap_err();
    let panicked = plan! { boom }.run(1).await.unwrap_err();
    for err in [timed_out, cut_off, limit, panicked] {
        assert_eq!(main_output(&err), format!("Error: {err}"));
    }
}

/// `AllFailed` lists every branch's error under its line, each with its own causes, indented
/// under it; nested groups nest.
#[tokio::test(start_paused = true)]
async fn debug_of_all_failed_lists_every_branch_with_its_causes() {
    let from = line!();
    let p = plan! {
        par(first) { fetch, #[timeout(1ms)] slow, par(first) { fail_a, fetch_once } }
    };
    let err = p.run(1).await.unwrap_err();
    let (line, _) = locate(from + 1, "par(first) { fetch,");
    let [fetch, slow, fail_a, fetch_once] =
        ["fetch,", "slow", "fail_a", "fetch_once"].map(|s| column_of(line, s));
    assert_eq!(
        main_output(&err),
        format!(
            "\
Error: {err}

Branch errors:
    0: `fetch` (step at 0/0, {file}:{line}:{fetch}) failed: request to example.org failed
       Caused by:
           0: could not connect
           1: connection refused
    1: `slow` (step at 0/1, {file}:{line}:{slow}) timed out after 1ms
    2: {inner_line}
       Branch errors:
           0: `fail_a` (step at 0/2/0, {file}:{line}:{fail_a}) failed: a failed on 1
           1: `fetch_once` (step at 0/2/1, {file}:{line}:{fetch_once}) failed: could not connect
              Caused by:
                  connection refused",
            file = file!(),
            inner_line = match &err {
                PlanError::AllFailed { errors, .. } => errors[2].to_string(),
                other => panic!("expected AllFailed, got {other}"),
            },
        )
    );
    assert!(
        err.to_string().starts_with(&format!(
            "every branch of `par(first)` (par at 0, {}:{line}:",
            file!()
        )),
        "{err}"
    );
}

/// `{:#?}` shows the structure, field by field, nested errors included.
#[tokio::test(start_paused = true)]
async fn alternate_debug_shows_the_structure() {
    let err = plan! { par(first) { fail_a, fetch_once } }
        .run(1)
        .await
        .unwrap_err();
    let text = format!("{err:#?}");
    assert!(
        text.starts_with("AllFailed {\n    node: NodeRef {\n"),
        "{text}"
    );
    assert!(text.contains("    errors: [\n        Step {\n"), "{text}");
    assert!(text.contains("kind: Par,"), "{text}");
    assert!(text.contains("name: \"fetch_once\","), "{text}");
    assert!(text.contains("source: Connect(\n"), "{text}");
    assert!(!text.contains("Caused by"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The plan graph.

fn parse(s: String) -> u32 {
    s.len() as u32
}

async fn search_a(q: u32) -> u32 {
    q + 1
}

async fn search_b(q: u32) -> u32 {
    q + 2
}

fn clean(x: u32) -> u32 {
    x
}

fn merge((a, b): (u32, u32)) -> u32 {
    a + b
}

fn is_big(x: &u32) -> bool {
    *x > 100
}

fn shrink(x: u32) -> u32 {
    x / 2
}

fn keep(x: u32) -> u32 {
    x
}

fn done(x: &u32) -> bool {
    *x > 20
}

fn critique(x: u32) -> u32 {
    x
}

fn revise(x: u32) -> u32 {
    x + 3
}

fn by_name<'g>(graph: &'g PlanGraph, name: &str) -> &'g GraphNode {
    let mut found = graph.nodes.iter().filter(|n| n.name == name);
    let node = found
        .next()
        .unwrap_or_else(|| panic!("no node `{name}` in {graph:#?}"));
    assert!(found.next().is_none(), "one node named `{name}`");
    node
}

/// Edges as `(from name, to name, label)`.
fn named_edges(graph: &PlanGraph) -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    graph
        .edges
        .iter()
        .map(|e| (graph.nodes[e.from].name, graph.nodes[e.to].name, e.label))
        .collect()
}

#[tokio::test]
async fn the_graph_of_a_representative_plan() {
    let from = line!();
    let p = plan! {
        parse
        >> #[timeout(2s)] par(all, limit = 2) { search_a, search_b >> clean }
        >> #[retry(3, backoff = 100ms)] #[name = "merge"] merge
        >> choose { if is_big => shrink, else => keep }
        >> loop(until = done, max = 5) { critique >> revise }
    };
    // The graph describes a plan that runs: "ab" -> 2 -> (3, 4) -> 7 -> 7 -> 10, 13, 16, 19, 22.
    assert_eq!(p.run("ab".to_owned()).await.unwrap(), 22);
    let g = p.graph();

    assert_eq!(g.nodes.len(), 13, "{g:#?}");
    for (index, node) in g.nodes.iter().enumerate() {
        assert_eq!(node.id, index);
        assert_eq!(node.location.file, file!());
    }

    // Kinds, paths, parents.
    let root = g
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Plan)
        .expect("a root");
    assert_eq!(root.parent, None);
    assert_eq!(root.path, "");
    let expected = [
        ("parse", NodeKind::Step, "0", "plan"),
        ("par", NodeKind::Par, "1", "plan"),
        ("search_a", NodeKind::Step, "1/0", "par"),
        ("search_b", NodeKind::Step, "1/1/0", "par"),
        ("clean", NodeKind::Step, "1/1/1", "par"),
        ("merge", NodeKind::Step, "2", "plan"),
        ("choose", NodeKind::Choose, "3", "plan"),
        ("shrink", NodeKind::Step, "3/0", "choose"),
        ("keep", NodeKind::Step, "3/1", "choose"),
        ("loop", NodeKind::Loop, "4", "plan"),
        ("critique", NodeKind::Step, "4/0", "loop"),
        ("revise", NodeKind::Step, "4/1", "loop"),
    ];
    for (name, kind, path, parent) in expected {
        let node = by_name(&g, name);
        assert_eq!(node.kind, kind, "{name}");
        assert_eq!(node.path, path, "{name}");
        assert_eq!(
            node.parent,
            Some(by_name(&g, parent).id),
            "parent of {name}"
        );
    }

    // Source locations: each node where it is written.
    // (name, text to find, offset of the node in it)
    for (name, needle, offset) in [
        ("parse", "parse", 0),
        ("par", "par(all", 0),
        ("search_b", "search_b >>", 0),
        ("merge", "\"] merge", 3),
        ("choose", "choose {", 0),
        ("loop", "loop(until", 0),
        ("revise", "revise }", 0),
    ] {
        let node = by_name(&g, name);
        let (line, column) = locate(from + 2, needle);
        assert_eq!(
            (node.location.line, node.location.column),
            (line, column + offset),
            "{name}"
        );
    }

    // Policy, options, timeout and retry as written and as evaluated.
    let par = by_name(&g, "par");
    assert_eq!(par.policy, Some("all"));
    assert_eq!(par.source.split_whitespace().next(), Some("par(all,"));
    let spec = par.parallel.expect("parallel spec on par");
    assert_eq!(spec.policy, PolicyKind::All);
    assert_eq!(spec.limit, Some(2));
    assert_eq!(spec.timeout, None);
    assert_eq!(par.timeout, Some(Duration::from_secs(2)));
    assert_eq!(par.retry, None);

    let merge = by_name(&g, "merge");
    assert_eq!(merge.source, "merge");
    assert_eq!(
        merge.retry,
        Some(RetryInfo {
            attempts: 3,
            backoff: Duration::from_millis(100)
        })
    );
    assert_eq!(merge.timeout, None);
    assert_eq!(by_name(&g, "parse").source, "parse");
    for name in ["parse", "search_a", "clean", "shrink", "critique"] {
        let node = by_name(&g, name);
        assert_eq!((node.policy, node.timeout, node.retry), (None, None, None));
        assert!(node.parallel.is_none());
    }

    // Edges: dataflow, choose arms labelled by their condition, the loop's back edge.
    let edges = named_edges(&g);
    let choose_arms: Vec<_> = edges
        .iter()
        .filter(|(from, ..)| *from == "choose")
        .collect();
    assert_eq!(choose_arms.len(), 2, "{edges:?}");
    assert_eq!(choose_arms[0].1, "shrink");
    assert!(
        choose_arms[0].2.is_some_and(|l| l.contains("is_big")),
        "{edges:?}"
    );
    assert_eq!(choose_arms[1].1, "keep");
    assert_eq!(choose_arms[1].2, Some("else"));
    let mut plain: Vec<_> = edges
        .iter()
        .filter(|(from, ..)| *from != "choose")
        .copied()
        .collect();
    plain.sort();
    let mut expected = vec![
        ("plan", "parse", None),
        ("parse", "par", None),
        ("par", "search_a", None),
        ("par", "search_b", None),
        ("search_b", "clean", None),
        ("search_a", "merge", None),
        ("clean", "merge", None),
        ("merge", "choose", None),
        ("shrink", "loop", None),
        ("keep", "loop", None),
        ("loop", "critique", None),
        ("critique", "revise", None),
        ("revise", "loop", Some("again")),
    ];
    expected.sort();
    assert_eq!(plain, expected);
}

#[tokio::test]
async fn a_nested_plan_appears_in_the_graph_under_its_step() {
    let inner = plan! { add_one >> even_only };
    let outer = plan! { add_one >> inner >> add_one };
    assert_eq!(outer.run(0).await.unwrap(), 3);
    let g = outer.graph();
    let roots: Vec<_> = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Plan)
        .collect();
    assert_eq!(roots.len(), 2, "{g:#?}");
    let step = by_name(&g, "inner");
    assert_eq!(step.path, "1");
    let inner_root = roots[1];
    assert_eq!(inner_root.parent, Some(step.id));
    let even = by_name(&g, "even_only");
    assert_eq!(even.path, "1/1");
    assert_eq!(even.parent, Some(inner_root.id));
    // Data flows into the nested plan's step and on from it (or from inside it) to the next.
    let edges = named_edges(&g);
    let first = g.nodes.iter().find(|n| n.name == "add_one").unwrap();
    let last = g.nodes.iter().rfind(|n| n.name == "add_one").unwrap();
    assert_eq!((first.path.as_str(), last.path.as_str()), ("0", "2"));
    assert!(
        g.edges
            .iter()
            .any(|e| e.from == first.id && e.to == step.id),
        "{edges:?}"
    );
    let inside_step =
        |id: usize| std::iter::successors(Some(id), |&n| g.nodes[n].parent).any(|n| n == step.id);
    assert!(
        g.edges
            .iter()
            .any(|e| inside_step(e.from) && e.to == last.id),
        "{edges:?}"
    );
}

#[test]
fn the_graph_serializes_to_json() {
    let p = plan! {
        parse
        >> #[timeout(2s)] par(n_best(1, by = score), timeout = 500ms, limit = 3) { search_a, search_b }
        >> #[retry(4, backoff = 10ms)] (|v: Vec<u32>| v[0])
        >> loop(until = done, max = 3) { revise }
    };
    let g = p.graph();
    let value = serde_json::to_value(&g).unwrap();
    let text = serde_json::to_string(&g).unwrap();
    let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reparsed, value);

    let nodes = value["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), g.nodes.len());
    for (json, node) in nodes.iter().zip(&g.nodes) {
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "id", "kind", "name", "source", "path", "location", "policy", "parallel", "timeout",
            "retry", "parent",
        ] {
            assert!(keys.contains(&key), "`{key}` in {json}");
        }
        assert_eq!(json["id"], node.id);
        assert_eq!(json["kind"], node.kind.as_str());
        assert_eq!(json["name"], node.name);
        assert_eq!(json["path"], node.path.as_str());
        assert_eq!(json["location"]["file"], file!());
        assert_eq!(json["location"]["line"], node.location.line);
        assert_eq!(json["location"]["column"], node.location.column);
        match node.parent {
            Some(parent) => assert_eq!(json["parent"], parent),
            None => assert!(json["parent"].is_null()),
        }
    }
    let find = |kind: &str| {
        nodes
            .iter()
            .find(|n| n["kind"] == kind)
            .unwrap_or_else(|| panic!("a `{kind}` node in {value}"))
    };
    let par = find("par");
    assert_eq!(par["policy"], "n_best(1, by = score)");
    assert_eq!(par["parallel"]["limit"], 3);
    assert_eq!(par["parallel"]["timeout"]["secs"], 0);
    assert_eq!(par["parallel"]["timeout"]["nanos"], 500_000_000);
    assert_eq!(par["timeout"]["secs"], 2);
    assert_eq!(par["timeout"]["nanos"], 0);
    assert!(
        !par["parallel"]["policy"].is_null(),
        "policy value in {par}"
    );
    let retried = nodes
        .iter()
        .find(|n| !n["retry"].is_null())
        .expect("a retried node");
    assert_eq!(retried["kind"], "step");
    assert_eq!(retried["retry"]["attempts"], 4);
    assert_eq!(retried["retry"]["backoff"]["nanos"], 10_000_000);
    assert_eq!(find("loop")["name"], "loop");
    assert_eq!(find("plan")["path"], "");

    let edges = value["edges"].as_array().unwrap();
    assert_eq!(edges.len(), g.edges.len());
    for (json, edge) in edges.iter().zip(&g.edges) {
        assert_eq!(json["from"], edge.from);
        assert_eq!(json["to"], edge.to);
        match edge.label {
            Some(label) => assert_eq!(json["label"], label),
            None => assert!(json["label"].is_null()),
        }
    }
    assert!(edges.iter().any(|e| e["label"] == "again"));
}

fn score(x: &u32) -> u32 {
    *x
}

#[test]
fn mermaid_and_dot_show_every_node_and_edge() {
    let p = plan! {
        parse
        >> #[timeout(2s)] par(all) { search_a, search_b >> clean }
        >> #[name = "merge \"quoted\""] merge
        >> choose { if is_big => shrink, else => keep }
        >> loop(until = done, max = 3) { critique >> revise }
    };
    let g = p.graph();
    let mermaid = g.to_mermaid();
    let dot = g.to_dot();
    assert!(mermaid.starts_with("flowchart"), "{mermaid}");
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");

    let lines = |text: &str| {
        text.lines()
            .map(str::trim)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let (mermaid_lines, dot_lines) = (lines(&mermaid), lines(&dot));

    for node in &g.nodes {
        let id = format!("n{}", node.id);
        // Quotes in names are escaped, so compare on the unquoted part.
        let shown = node.name.split('"').next().unwrap();
        let declared = |lines: &[String], open: &str| {
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{id}{open}")) && l.contains(shown))
        };
        assert!(
            declared(&mermaid_lines, "["),
            "node {id} `{}` in\n{mermaid}",
            node.name
        );
        assert!(
            declared(&dot_lines, " ["),
            "node {id} `{}` in\n{dot}",
            node.name
        );
    }
    for edge in &g.edges {
        let (from, to) = (format!("n{}", edge.from), format!("n{}", edge.to));
        let in_mermaid = mermaid_lines.iter().any(|l| {
            l.starts_with(&format!("{from} -->"))
                && l.ends_with(&format!(" {to}"))
                && edge.label.is_none_or(|label| l.contains(label))
        });
        assert!(in_mermaid, "edge {edge:?} in\n{mermaid}");
        let in_dot = dot_lines.iter().any(|l| {
            l.strip_prefix(&format!("{from} -> {to}"))
                .is_some_and(|rest| rest.starts_with(';') || rest.starts_with(' '))
                && edge.label.is_none_or(|label| l.contains(label))
        });
        assert!(in_dot, "edge {edge:?} in\n{dot}");
    }
    // One line per node and per edge, besides the headers: nothing else is drawn.
    let arrows = mermaid_lines.iter().filter(|l| l.contains("-->")).count();
    assert_eq!(arrows, g.edges.len());
    let arrows = dot_lines.iter().filter(|l| l.contains("->")).count();
    assert_eq!(arrows, g.edges.len());
    // The timeout and the loop's back edge are visible.
    assert!(mermaid.contains("again") && dot.contains("again"));
    assert!(mermaid.contains("2s") && dot.contains("2s"));
    // The quote in the name does not break the quoting of either format.
    let merge_line = dot_lines
        .iter()
        .find(|l| l.contains("merge") && l.contains("label"))
        .unwrap();
    assert!(!merge_line.contains("merge \"quoted"), "{merge_line}");
    let merge_line = mermaid_lines
        .iter()
        .find(|l| l.contains("merge") && l.contains('['))
        .unwrap();
    assert!(!merge_line.contains("merge \"quoted"), "{merge_line}");
}

// ---------------------------------------------------------------------------------------------
// Tracing: every node runs in a span named "plan.node" with fields name, kind, path.

#[derive(Debug, Clone)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<String, String>,
    /// The id of the span it was created in (explicitly, or the entered one).
    parent: Option<u64>,
}

#[derive(Default)]
struct Recorded {
    spans: Vec<SpanRecord>,
    /// Entered spans on the (single) thread running the plan, innermost last.
    stack: Vec<u64>,
    /// For each event, its `step` field and the stack of spans it happened in.
    events: Vec<(String, Vec<SpanRecord>)>,
}

/// A minimal subscriber recording spans, the span stack, and events with their stacks.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Recorded>>);

struct FieldMap<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for FieldMap<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut FieldMap(&mut fields));
        let mut recorded = self.0.lock().unwrap();
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            Some(parent.into_u64())
        } else {
            recorded.stack.last().copied()
        };
        recorded.spans.push(SpanRecord {
            name: attrs.metadata().name(),
            fields,
            parent,
        });
        tracing::span::Id::from_u64(recorded.spans.len() as u64)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldMap(&mut fields));
        let Some(step) = fields.remove("step") else {
            return;
        };
        let mut recorded = self.0.lock().unwrap();
        let stack = recorded
            .stack
            .iter()
            .map(|&id| recorded.spans[id as usize - 1].clone())
            .collect();
        recorded.events.push((step, stack));
    }

    fn enter(&self, span: &tracing::span::Id) {
        self.0.lock().unwrap().stack.push(span.into_u64());
    }

    fn exit(&self, span: &tracing::span::Id) {
        let mut recorded = self.0.lock().unwrap();
        let top = recorded.stack.pop();
        assert_eq!(top, Some(span.into_u64()), "spans exit in LIFO order");
    }
}

fn traced(step: &'static str) -> impl Fn(u32) -> u32 + Send + Sync {
    move |x| {
        tracing::info!(step, "running");
        x + 1
    }
}

fn traced_async(
    step: &'static str,
) -> impl Fn(u32) -> std::pin::Pin<Box<dyn Future<Output = u32> + Send>> + Send + Sync {
    move |x| {
        Box::pin(async move {
            tokio::task::yield_now().await;
            tracing::info!(step, "running");
            x + 1
        })
    }
}

/// The fields of a span, as `(name, kind, path)`.
fn identity(span: &SpanRecord) -> (&str, &str, &str) {
    let field = |key: &str| span.fields.get(key).map_or("<missing>", String::as_str);
    (field("name"), field("kind"), field("path"))
}

#[test]
fn every_node_runs_in_a_plan_node_span_with_name_kind_and_path() {
    let recorder = Recorder::default();
    let p = plan! {
        #[name = "first"] traced("a")
        >> par(all) { #[name = "left"] traced_async("b"), #[name = "right"] traced("c") }
        >> (|(x, y): (u32, u32)| x + y)
        >> loop(until = |n: &u32| *n > 10, max = 5) { #[name = "again"] traced("d") }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _default = tracing::subscriber::set_default(recorder.clone());
    // Callsite interest is cached process-wide, and other tests run plans on other threads
    // meanwhile: one of them may register the span's callsite first, against its own (absent)
    // subscriber. Make sure every callsite is registered, then recompute interest on this thread.
    rt.block_on(p.run(1)).unwrap();
    tracing::callsite::rebuild_interest_cache();
    *recorder.0.lock().unwrap() = Recorded::default();

    let out = rt.block_on(p.run(1));
    // 1 -> 2 -> (3, 3) -> 6 -> 7 .. 11
    assert_eq!(out.unwrap(), 11);

    let recorded = recorder.0.lock().unwrap();
    assert!(recorded.stack.is_empty(), "every span was exited");
    let mut steps: Vec<&str> = recorded.events.iter().map(|(s, _)| s.as_str()).collect();
    steps.sort_unstable();
    assert_eq!(steps, ["a", "b", "c", "d", "d", "d", "d", "d"]);

    let expected = [
        ("a", vec![("plan", "plan", ""), ("first", "step", "0")]),
        (
            "b",
            vec![
                ("plan", "plan", ""),
                ("par", "par", "1"),
                ("left", "step", "1/0"),
            ],
        ),
        (
            "c",
            vec![
                ("plan", "plan", ""),
                ("par", "par", "1"),
                ("right", "step", "1/1"),
            ],
        ),
        (
            "d",
            vec![
                ("plan", "plan", ""),
                ("loop", "loop", "3"),
                ("again", "step", "3/0"),
            ],
        ),
    ];
    for (step, stack) in &recorded.events {
        let spans: Vec<_> = stack.iter().map(identity).collect();
        for span in stack {
            assert_eq!(span.name, "plan.node", "{stack:?}");
        }
        let (_, want) = expected.iter().find(|(s, _)| s == step).unwrap();
        assert_eq!(&spans, want, "spans around step {step}");
    }

    // The closure step has a span too, though it emits nothing.
    let closure_span = recorded
        .spans
        .iter()
        .find(|s| s.fields.get("path").is_some_and(|p| p == "2"))
        .expect("a span for the node at path 2");
    assert_eq!(closure_span.name, "plan.node");
    assert_eq!(identity(closure_span).1, "step");
}

/// Spans nest as the nodes do: a node's span is made when it starts, inside its parent's, and a
/// branch that never starts makes none.
#[test]
fn node_spans_are_children_of_their_parent_nodes_and_unstarted_branches_have_none() {
    let recorder = Recorder::default();
    let p = plan! { #[name = "outer"] par(first, limit = 1) { #[name = "winner"] traced("a"), #[name = "never"] traced("b") } };
    tracing::subscriber::with_default(recorder.clone(), || {
        tracing::callsite::rebuild_interest_cache();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(p.run(1)).unwrap(), 2);
    });
    let recorded = recorder.0.lock().unwrap();
    let span_named = |name: &str| {
        recorded
            .spans
            .iter()
            .position(|span| span.fields.get("name").map(String::as_str) == Some(name))
            .map(|index| (index as u64 + 1, &recorded.spans[index]))
    };
    let (plan_id, plan_span) = span_named("plan").expect("a span for the plan");
    let (outer_id, outer) = span_named("outer").expect("a span for the par");
    let (_, winner) = span_named("winner").expect("a span for the winner");
    assert_eq!(plan_span.parent, None);
    assert_eq!(outer.parent, Some(plan_id));
    assert_eq!(winner.parent, Some(outer_id));
    assert!(
        span_named("never").is_none(),
        "a branch that never started made a span"
    );
}
