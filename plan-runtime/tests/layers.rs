//! Layers: a user's middleware around a step or a construct of a `plan!` (`#[layer(..)]`),
//! with the plan's graph and node names unchanged; stacks of layers in order; and the
//! built-in `#[timeout]`, `#[retry]`, `#[durable]` as layers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use plan_runtime::layer::{Layer, Layers, Middleware, Retry, Timeout, around};
use plan_runtime::prelude::*;
use plan_runtime::{Cx, GraphBuilder, NodeRef, PlanGraph, step};
use tokio::time::Instant;

/// Remembers each input's output; counts its hits.
#[derive(Clone, Default)]
struct Cache {
    answers: Arc<Mutex<HashMap<u32, u32>>>,
    hits: Arc<AtomicU32>,
}

impl Describe for Cache {}

impl<C: Sync> Middleware<u32, u32, C> for Cache {
    async fn around<P>(&self, input: u32, cx: Cx<'_, C>, next: &P) -> Result<u32, PlanError>
    where
        P: Plan<u32, C, Out = u32>,
    {
        if let Some(hit) = self.answers.lock().unwrap().get(&input) {
            self.hits.fetch_add(1, SeqCst);
            return Ok(*hit);
        }
        let out = next.call(input, cx).await?;
        self.answers.lock().unwrap().insert(input, out);
        Ok(out)
    }
}

/// Writes `tag>` before and `<tag` after every call it wraps, with the node being run.
#[derive(Clone)]
struct Audit {
    tag: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl Describe for Audit {}

impl<I: Send, O: Send, C: Sync> Middleware<I, O, C> for Audit {
    async fn around<P>(&self, input: I, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
    where
        P: Plan<I, C, Out = O>,
    {
        let node = cx.node().name;
        self.log
            .lock()
            .unwrap()
            .push(format!("{}> {node}", self.tag));
        let out = next.call(input, cx).await;
        self.log
            .lock()
            .unwrap()
            .push(format!("<{} {node}", self.tag));
        out
    }
}

/// Refuses inputs over a bound, with an error of its own.
#[derive(Clone)]
struct AtMost(u32);

#[derive(Debug, thiserror::Error)]
#[error("{0} is too large")]
struct TooLarge(u32);

impl Describe for AtMost {}

impl<O: Send, C: Sync> Middleware<u32, O, C> for AtMost {
    async fn around<P>(&self, input: u32, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
    where
        P: Plan<u32, C, Out = O>,
    {
        if input > self.0 {
            return Err(PlanError::step(NodeRef::current(&cx), TooLarge(input)));
        }
        next.call(input, cx).await
    }
}

fn parse(text: &str) -> u32 {
    text.trim().parse().unwrap_or(0)
}

fn audit_log() -> Arc<Mutex<Vec<String>>> {
    Arc::new(Mutex::new(Vec::new()))
}

#[tokio::test]
async fn a_cache_answers_a_repeated_call_without_running_the_step() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let square = move |n: u32| {
        counted.fetch_add(1, SeqCst);
        n * n
    };
    let cache = Cache::default();
    let layer = around(cache.clone());
    let plan = plan! { parse >> #[layer(layer)] (square.clone()) };
    for text in ["3", " 3 ", "4", "3"] {
        let n = parse(text);
        assert_eq!(plan.run(text).await.unwrap(), n * n);
    }
    assert_eq!(calls.load(SeqCst), 2);
    assert_eq!(cache.hits.load(SeqCst), 2);
}

#[test]
fn a_layered_plan_has_the_graph_of_the_plan_inside() {
    fn fetch(n: u32) -> u32 {
        n
    }
    fn a(n: u32) -> u32 {
        n
    }
    fn b(n: u32) -> u32 {
        n
    }
    let (cache, audit) = (
        around(Cache::default()),
        around(Audit {
            tag: "audit",
            log: audit_log(),
        }),
    );
    let layered = plan! {
        parse >> #[layer(cache)] #[timeout(1s)] fetch >> #[layer(audit)] par(all) { a, b } >> (|(x, _): (u32, u32)| x)
    };
    let bare = plan! {
        parse >> #[timeout(1s)] fetch >> par(all) { a, b } >> (|(x, _): (u32, u32)| x)
    };
    let (layered, bare) = (layered.graph(), bare.graph());
    assert_eq!(layered.to_mermaid(), bare.to_mermaid());
    assert_eq!(layered.to_dot(), bare.to_dot());
    let facts = |graph: &PlanGraph| -> Vec<_> {
        graph
            .nodes
            .iter()
            .map(|n| (n.kind, n.name, n.path.clone(), n.timeout, n.parent))
            .collect()
    };
    assert_eq!(facts(&layered), facts(&bare));
    assert_eq!(layered.nodes[2].name, "fetch");
    assert_eq!(
        layered.nodes[2].timeout,
        Some(Duration::from_secs(1)),
        "the middleware keeps the marks of the layers around it"
    );
}

#[tokio::test]
async fn errors_inside_and_of_the_middleware_name_the_node() {
    fn check(n: u32) -> Result<u32, &'static str> {
        if n == 0 { Err("zero") } else { Ok(n) }
    }
    fn a(n: u32) -> u32 {
        n
    }
    fn b(n: u32) -> Result<u32, &'static str> {
        if n == 7 { Err("seven") } else { Ok(n) }
    }
    let bound = around(AtMost(10));
    let plan = plan! { parse >> #[layer(bound)] check >> #[layer(bound)] par(all) { a, b } };

    // The step inside fails: the error names it, as without the middleware.
    let err = plan.run("0").await.unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("check", "1"));
    // The middleware refuses: its error names the node it wraps.
    let err = plan.run("11").await.unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("check", "1"));
    assert_eq!(err.step_error::<TooLarge>().unwrap().0, 11);
    // A branch of a wrapped construct fails: the branch is named.
    let err = plan.run("7").await.unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("b", "2/1"));
    assert_eq!(plan.run("5").await.unwrap(), (5, 5));
}

#[tokio::test]
async fn layers_stack_outermost_first() {
    fn step(n: u32) -> u32 {
        n + 1
    }
    let log = audit_log();
    let (outer, inner) = (
        around(Audit {
            tag: "outer",
            log: log.clone(),
        }),
        around(Audit {
            tag: "inner",
            log: log.clone(),
        }),
    );
    // As attributes, the first written is the outermost...
    let attributes = plan! { #[name = "step"] #[layer(outer)] #[layer(inner)] step };
    assert_eq!(attributes.run(1).await.unwrap(), 2);
    // ...and as a stack, the first added.
    let stack = Layers::new().layer(outer.clone()).layer(inner.clone());
    let stacked = plan! { #[name = "step"] (stack.wrap(step!(step))) };
    assert_eq!(stacked.run(1).await.unwrap(), 2);
    let once = ["outer> step", "inner> step", "<inner step", "<outer step"];
    assert_eq!(*log.lock().unwrap(), [once, once].concat());
}

#[tokio::test(start_paused = true)]
async fn the_built_in_wrappers_are_layers_in_a_stack() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    // Fails fast twice, then hangs.
    let flaky = move |n: u32| {
        let call = counted.fetch_add(1, SeqCst);
        async move {
            if call < 2 {
                return Err("not yet");
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(n)
        }
    };
    // One deadline over three attempts, 100 ms apart at most (backoff with jitter).
    let stack = Layers::new()
        .layer(around(Timeout::new(Duration::from_secs(1))))
        .layer(around(Retry::new(3, Duration::from_millis(100))));
    let plan = plan! { #[name = "flaky"] (stack.wrap(step!(flaky.clone()))) };
    let graph = plan.graph();
    assert_eq!(graph.nodes[1].timeout, Some(Duration::from_secs(1)));
    assert_eq!(graph.nodes[1].retry.map(|r| r.attempts), Some(3));

    let start = Instant::now();
    let err = plan.run(1).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.node().name, "flaky");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(calls.load(SeqCst), 3);
}

#[test]
fn a_layer_can_be_any_type() {
    /// A plan of its own that doubles what the plan inside gives.
    struct Doubled<P>(P);
    impl<P: Describe> Describe for Doubled<P> {
        fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
            self.0.describe(graph, preds)
        }
    }
    impl<P: Plan<u32, Out = u32>> Plan<u32> for Doubled<P> {
        type Out = u32;
        async fn call(&self, n: u32, cx: Cx<'_, ()>) -> Result<u32, PlanError> {
            Ok(self.0.call(n, cx).await? * 2)
        }
    }
    struct Double;
    impl<P> Layer<P> for Double {
        type Plan = Doubled<P>;
        fn layer(&self, plan: P) -> Doubled<P> {
            Doubled(plan)
        }
    }
    fn inc(n: u32) -> u32 {
        n + 1
    }
    let plan = plan! { #[layer(Double)] inc >> #[layer(Double)] inc };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(plan.run(1)).unwrap(), 10);
}
