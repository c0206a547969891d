//! Bindings: `let name = sources >> steps;` blocks run as a dependency graph, every binding
//! starting when its own sources are ready — timed exactly on tokio's paused clock, with drop
//! flags for what fail-fast and cancellation drop, and counters for the clones a shared name
//! costs.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use common::{Guard, Probe, ms};
use plan_runtime::prelude::*;
use plan_runtime::{NodeKind, PlanGraph};
use tokio::time::Instant;

define_fail!("binding");

fn start(x: u32) -> u32 {
    x
}

/// Sleeps `millis` on the paused clock, then adds `add`.
async fn after(x: u32, millis: u64, add: u32) -> u32 {
    tokio::time::sleep(ms(millis)).await;
    x + add
}

async fn b(x: u32) -> u32 {
    after(x, 100, 1).await
}
async fn c(x: u32) -> u32 {
    after(x, 300, 10).await
}
async fn d(x: u32) -> u32 {
    after(x, 100, 100).await
}
fn join((c, d): (u32, u32)) -> u32 {
    c * 1000 + d
}

/// a; b = a >> 100 ms; c = a >> 300 ms; d = b >> 100 ms; (c, d) >> join.
fn diamond() -> impl Plan<u32, Out = u32> {
    plan! {
        let a = start;
        let b = a >> b;
        let c = a >> c;
        let d = b >> d;
        (c, d) >> join
    }
}

#[tokio::test(start_paused = true)]
async fn a_binding_waits_only_for_its_own_sources() {
    let dag = diamond();
    let t0 = Instant::now();
    assert_eq!(dag.run(1).await.unwrap(), 11 * 1000 + 102);
    // The critical path, a >> c: 300 ms.
    assert_eq!(t0.elapsed(), ms(300));

    // The same graph level by level, as a layered executor runs it — {b, c}, then {d} —
    // takes 400 ms: `d` waits for `c`, which it does not need.
    let pass = |x: u32| x;
    let levels = plan! {
        start >> par(all) { b, c } >> par(all) { (|(b, _c): (u32, u32)| b) >> d, (move |(_b, c): (u32, u32)| pass(c)) }
        >> (|(d, c): (u32, u32)| (c, d)) >> join
    };
    let t0 = Instant::now();
    assert_eq!(levels.run(1).await.unwrap(), 11 * 1000 + 102);
    assert_eq!(t0.elapsed(), ms(400));
}

#[tokio::test(start_paused = true)]
async fn the_report_shows_each_binding_starting_when_its_sources_were_ready() {
    let dag = diamond();
    let (out, report) = dag.run(1).reported().await;
    out.unwrap();
    let started = |name: &str| {
        let record = report
            .nodes
            .iter()
            .find(|n| n.name == name && n.kind == NodeKind::Let)
            .unwrap_or_else(|| panic!("no binding `{name}` in the report"));
        (record.start, record.end.unwrap())
    };
    assert_eq!(started("a"), (ms(0), ms(0)));
    assert_eq!(started("b"), (ms(0), ms(100)));
    assert_eq!(started("c"), (ms(0), ms(300)));
    assert_eq!(started("d"), (ms(100), ms(200)));
    let join = report.find("join").unwrap();
    assert_eq!((join.start, join.end), (ms(300), Some(ms(300))));
    // The timeline has a row per binding.
    let timeline = report.to_string();
    for row in ["a", "b", "c", "d", "join"] {
        assert!(
            timeline.lines().any(|line| line.contains(row)),
            "{timeline}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_first_error_drops_every_binding_in_flight() {
    let probe = Probe::default();
    let (p1, p2, p3) = (probe.clone(), probe.clone(), probe.clone());
    let dag = plan! {
        let src = start;
        // Fails at 50 ms.
        let bad = src >> (move |x: u32| {
            let probe = p1.clone();
            async move {
                let guard = Guard::enter(&probe, 1);
                tokio::time::sleep(ms(50)).await;
                guard.finish();
                Err::<u32, _>(Fail(x))
            }
        });
        // Would take 300 ms.
        let slow = src >> (move |x: u32| {
            let probe = p2.clone();
            async move {
                let guard = Guard::enter(&probe, 2);
                tokio::time::sleep(ms(300)).await;
                guard.finish();
                x
            }
        });
        // Never starts: its source fails.
        let after_bad = bad >> (move |x: u32| {
            let probe = p3.clone();
            async move {
                let guard = Guard::enter(&probe, 3);
                guard.finish();
                x
            }
        });
        (after_bad, slow)
    };
    let t0 = Instant::now();
    let err = dag.run(7).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(50));
    assert_eq!(err.node().path, "1/0");
    assert!(err.to_string().contains("binding 7 failed"), "{err}");
    assert_eq!(probe.started(), [1, 2]);
    assert_eq!(probe.finished(), [1]);
    // `slow` was dropped mid-sleep, before the run returned; nothing is left running.
    assert_eq!(probe.cancelled(), [2]);
    assert_eq!(probe.running(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_or_a_cancellation_drops_every_binding_in_flight() {
    let probe = Probe::default();
    let sleeper = |id: u32, millis: u64| {
        let probe = probe.clone();
        move |x: u32| {
            let probe = probe.clone();
            async move {
                let guard = Guard::enter(&probe, id);
                tokio::time::sleep(ms(millis)).await;
                guard.finish();
                x
            }
        }
    };
    let (s1, s2, s3) = (sleeper(1, 100), sleeper(2, 200), sleeper(3, 300));
    let dag = plan! {
        let one = s1;
        let two = s2;
        let three = one >> s3;
        (two, three)
    };
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(ms(150)).await;
        cancel.cancel();
    });
    let t0 = Instant::now();
    let err = dag.run(0).until(token.cancelled()).await.unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(t0.elapsed(), ms(150));
    // `one` finished; `two` and `three` (started at 100 ms) were dropped mid-sleep.
    assert_eq!(probe.finished(), [1]);
    assert_eq!(probe.cancelled(), [2, 3]);
    assert_eq!(probe.running(), 0);

    // A deadline around the block, as an item of a chain.
    let probe_before = probe.started().len();
    let timed = plan! { #[timeout(250ms)] (dag) };
    let err = timed.run(0).await.unwrap_err();
    assert!(matches!(err, PlanError::Timeout { .. }), "{err}");
    assert_eq!(probe.started().len(), probe_before + 3);
    assert_eq!(probe.running(), 0);
    assert_eq!(probe.cancelled(), [2, 3, 3]);
}

/// A value whose clones are counted.
#[derive(Debug)]
struct Counted {
    value: u32,
    clones: Arc<AtomicUsize>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, SeqCst);
        Counted {
            value: self.value,
            clones: Arc::clone(&self.clones),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_name_read_by_three_bindings_is_cloned_twice() {
    let clones = Arc::new(AtomicUsize::new(0));
    let made = Arc::clone(&clones);
    let make = move |x: u32| Counted {
        value: x,
        clones: Arc::clone(&made),
    };
    let plus = |n: u32| move |c: Counted| c.value + n;
    let (one, two, three) = (plus(1), plus(2), plus(3));
    let sum = |(a, b, c): (u32, u32, u32)| a + b + c;
    let dag = plan! {
        let src = make;
        let a = src >> one;
        let b = src >> two;
        let c = src >> three;
        (a, b, c) >> sum
    };
    assert_eq!(dag.run(10).await.unwrap(), 11 + 12 + 13);
    // Three readers: two clones, and the last reader gets the value itself.
    assert_eq!(clones.load(SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_input_is_cloned_for_all_but_the_last_binding_fed_by_it() {
    let clones = Arc::new(AtomicUsize::new(0));
    let input = Counted {
        value: 5,
        clones: Arc::clone(&clones),
    };
    let value = |c: Counted| c.value;
    let double = |c: Counted| c.value * 2;
    let add = |(a, b): (u32, u32)| a + b;
    let dag = plan! {
        let a = value;
        let b = double;
        (a, b) >> add
    };
    assert_eq!(dag.run(input).await.unwrap(), 15);
    assert_eq!(clones.load(SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_underscore_binding_runs_and_is_awaited_but_its_value_is_dropped() {
    let audited = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&audited);
    let audit = move |x: u32| {
        let seen = Arc::clone(&seen);
        async move {
            tokio::time::sleep(ms(200)).await;
            seen.store(x as usize, SeqCst);
            x
        }
    };
    let dag = plan! {
        let src = start;
        let _audit = src >> (audit.clone());
        let _ = src >> audit;
        src >> b
    };
    let t0 = Instant::now();
    assert_eq!(dag.run(4).await.unwrap(), 5);
    // The output was ready at 100 ms; the plan waited for the audits.
    assert_eq!(t0.elapsed(), ms(200));
    assert_eq!(audited.load(SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn timeout_and_retry_after_the_equals_sign_apply_to_the_binding() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let tries = Arc::clone(&attempts);
    let flaky = move |x: u32| {
        let n = tries.fetch_add(1, SeqCst) + 1;
        if n < 3 {
            Err(Fail(n as u32))
        } else {
            Ok(x + n as u32)
        }
    };
    let retried = plan! {
        let src = start;
        let got = #[retry(3)] src >> flaky;
        got
    };
    assert_eq!(retried.run(10).await.unwrap(), 13);
    assert_eq!(attempts.load(SeqCst), 3);

    let timed = plan! {
        let src = start;
        let slow = #[timeout(150ms)] src >> c;
        let fast = src >> b;
        (slow, fast)
    };
    let t0 = Instant::now();
    let err = timed.run(0).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(150));
    match &err {
        PlanError::Timeout { node, .. } => {
            assert_eq!(
                (node.name, node.kind, node.path.as_str()),
                ("slow", NodeKind::Let, "1")
            );
        }
        other => panic!("expected a timeout, got {other}"),
    }
}

async fn fetch(q: String) -> Vec<String> {
    tokio::time::sleep(ms(10)).await;
    q.split(' ').map(str::to_owned).collect()
}
fn count(words: Vec<String>) -> usize {
    words.len()
}
fn longest(words: Vec<String>) -> String {
    words
        .into_iter()
        .max_by_key(String::len)
        .unwrap_or_default()
}
fn shout(word: String) -> String {
    word.to_uppercase()
}
fn report((n, word, lens): (usize, String, Vec<usize>)) -> String {
    format!("{n} words, longest {word}, lengths {lens:?}")
}

#[tokio::test(start_paused = true)]
async fn bindings_hold_any_plan_syntax_and_a_seq_block_is_one_item() {
    let len = |w: String| w.len();
    let dag = plan! {
        #![name = "words"]
        let words = fetch;
        let n = words >> count;
        let word = words >> par(first) { longest >> shout, (|_: Vec<String>| String::new()) };
        let lens = words >> each(all) { len };
        (n, word, lens) >> report
    };
    assert_eq!(
        dag.run("a bb ccc".into()).await.unwrap(),
        "3 words, longest CCC, lengths [1, 2, 3]"
    );

    // A block of bindings inside a chain: a sub-graph used as one item.
    let trim = |s: String| s.trim().to_owned();
    let chain = plan! {
        trim
        >> seq {
            let words = fetch;
            let n = words >> count;
            let word = words >> longest;
            (n, word)
        }
        >> (|(n, w): (usize, String)| format!("{n}:{w}"))
    };
    assert_eq!(chain.run("  x yy  ".into()).await.unwrap(), "2:yy");
}

struct Config {
    bonus: u32,
}

fn with_bonus(x: u32, cfg: &Config) -> u32 {
    x + cfg.bonus
}

#[tokio::test(start_paused = true)]
async fn steps_inside_bindings_take_the_plan_context() {
    let dag = plan! {
        let a = with_bonus;
        let b = a >> with_bonus;
        (a, b) >> (|(a, b): (u32, u32)| a * 100 + b)
    };
    let cfg = Config { bonus: 5 };
    assert_eq!(dag.run(1).ctx(&cfg).await.unwrap(), 6 * 100 + 11);
}

fn edges_between(graph: &PlanGraph, from: &str, to: &str) -> usize {
    let id = |name: &str| {
        graph
            .nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node `{name}`"))
            .id
    };
    let (from, to) = (id(from), id(to));
    graph
        .edges
        .iter()
        .filter(|e| e.from == from && e.to == to)
        .count()
}

#[test]
fn the_graph_has_the_real_edges_between_bindings() {
    fn compile_core(x: u32) -> u32 {
        x
    }
    fn compile_ui(x: u32) -> u32 {
        x
    }
    fn link((a, b): (u32, u32)) -> u32 {
        a + b
    }
    fn package((a, b): (u32, u32)) -> u32 {
        a + b
    }
    let release = plan! {
        let src = start;
        let core = src >> compile_core;
        let ui = src >> compile_ui;
        let app = (core, src) >> link;
        (app, ui) >> package
    };
    let graph = release.graph();
    let lets: Vec<&str> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Let)
        .map(|n| n.name)
        .collect();
    assert_eq!(lets, ["src", "core", "ui", "app"]);
    // Data leaves a binding by its last step and enters the readers' `let` nodes.
    assert_eq!(edges_between(&graph, "start", "core"), 1);
    assert_eq!(edges_between(&graph, "start", "ui"), 1);
    assert_eq!(edges_between(&graph, "compile_core", "app"), 1);
    assert_eq!(edges_between(&graph, "start", "app"), 1);
    assert_eq!(edges_between(&graph, "link", "package"), 1);
    assert_eq!(edges_between(&graph, "compile_ui", "package"), 1);
    // No level barrier: `ui` does not feed `app`.
    assert_eq!(edges_between(&graph, "compile_ui", "app"), 0);
    let mermaid = graph.to_mermaid();
    assert!(mermaid.contains("[\"app · let\"]"), "{mermaid}");
    assert!(graph.to_dot().contains("label=\"core · let\""));
}

#[tokio::test(start_paused = true)]
async fn an_error_inside_a_binding_names_its_step_under_the_binding() {
    let bad = |x: u32| if x > 1 { Err(Fail(x)) } else { Ok(x) };
    let dag = plan! {
        let a = start;
        let b = a >> b >> bad;
        b
    };
    let err = dag.run(1).await.unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("bad", "1/1"));
    assert!(err.to_string().contains("`bad` (step at 1/1"), "{err}");
}

/// A block of bindings from a list of names: each reads the two before it (so every one is
/// read twice, and the graph is a ladder, not a chain); every step takes 1 ms.
macro_rules! ladder {
    ($a:ident $b:ident $($rest:ident)*) => {
        ladder!(@ [let $a = tick; let $b = $a >> tick;] $a $b; $($rest)*)
    };
    (@ [$($lets:tt)*] $p2:ident $p1:ident; $next:ident $($rest:ident)*) => {
        ladder!(@ [$($lets)* let $next = ($p2, $p1) >> add;] $p1 $next; $($rest)*)
    };
    (@ [$($lets:tt)*] $p2:ident $p1:ident;) => {
        plan! { $($lets)* ($p2, $p1) >> add }
    };
}

async fn tick(x: u64) -> u64 {
    tokio::time::sleep(ms(1)).await;
    x.wrapping_add(1)
}

async fn add((a, b): (u64, u64)) -> u64 {
    tokio::time::sleep(ms(1)).await;
    a.wrapping_add(b)
}

#[tokio::test(start_paused = true)]
async fn a_plan_of_a_thousand_bindings() {
    // 100 bindings per block: a flat block's build time grows with the square of its size
    // (the impl that types its edges), so a plan this large is made of blocks.
    let block = ladder!(
        n00 n01 n02 n03 n04 n05 n06 n07 n08 n09 n10 n11 n12 n13 n14 n15 n16 n17 n18 n19
        n20 n21 n22 n23 n24 n25 n26 n27 n28 n29 n30 n31 n32 n33 n34 n35 n36 n37 n38 n39
        n40 n41 n42 n43 n44 n45 n46 n47 n48 n49 n50 n51 n52 n53 n54 n55 n56 n57 n58 n59
        n60 n61 n62 n63 n64 n65 n66 n67 n68 n69 n70 n71 n72 n73 n74 n75 n76 n77 n78 n79
        n80 n81 n82 n83 n84 n85 n86 n87 n88 n89 n90 n91 n92 n93 n94 n95 n96 n97 n98 n99
    );
    let b = || block.clone();
    // Ten blocks, each a binding, in a ladder of their own.
    let plan = plan! {
        let x0 = (b());
        let x1 = x0 >> (b());
        let x2 = (x0, x1) >> add >> (b());
        let x3 = (x1, x2) >> add >> (b());
        let x4 = (x2, x3) >> add >> (b());
        let x5 = (x3, x4) >> add >> (b());
        let x6 = (x4, x5) >> add >> (b());
        let x7 = (x5, x6) >> add >> (b());
        let x8 = (x6, x7) >> add >> (b());
        let x9 = (x7, x8) >> add >> (b());
        (x8, x9) >> add
    };
    let graph = plan.graph();
    let bindings = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Let)
        .count();
    assert_eq!(bindings, 10 + 10 * 100);

    // What the ladder computes, step by step.
    let ladder = |x: u64| {
        let (mut p2, mut p1) = (x + 1, x + 2);
        for _ in 2..100 {
            (p2, p1) = (p1, p2.wrapping_add(p1));
        }
        p2.wrapping_add(p1)
    };
    let x0 = ladder(1);
    let x1 = ladder(x0);
    let (mut p2, mut p1) = (x0, x1);
    for _ in 2..10 {
        (p2, p1) = (p1, ladder(p2.wrapping_add(p1)));
    }
    let expected = p2.wrapping_add(p1);

    let t0 = Instant::now();
    assert_eq!(plan.run(1).await.unwrap(), expected);
    // A block's critical path is its 100 bindings in order, 1 ms each, plus the output's
    // `add`: 101 ms; the outer ladder runs ten blocks in order, with an `add` before eight of
    // them and one for the output.
    assert_eq!(t0.elapsed(), ms(10 * 101 + 8 + 1));
}
