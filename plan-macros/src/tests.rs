//! Unit tests of the macro itself: snapshots of expansions (what `cargo expand` shows), and
//! the parser on broken input, which must always answer with an error, never a panic.

use proc_macro2::TokenStream;
use proptest::prelude::*;

use crate::expand_plan;

/// The expansion of `body`, pretty-printed as the body of a function.
fn expanded(body: &str) -> String {
    let tokens: TokenStream = body.parse().expect("test input tokenizes");
    let expansion = expand_plan(tokens);
    let file: syn::File = syn::parse_quote!(fn plan() { let plan = #expansion; });
    prettyplease::unparse(&file)
}

/// The error message for a malformed `body`, which must not expand to anything else.
fn error(body: &str) -> String {
    let tokens: TokenStream = body.parse().expect("test input tokenizes");
    let expansion = expand_plan(tokens).to_string();
    assert!(
        expansion.contains("compile_error"),
        "expected an error for {body:?}, got {expansion}"
    );
    expansion
}

macro_rules! snapshot {
    ($name:ident, $body:literal) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(expanded($body));
        }
    };
}

snapshot!(chain_of_steps, "parse >> fetch >> summarize");
snapshot!(chain_is_one_seq, "a >> b >> c >> d >> e");
snapshot!(
    par_all_with_timeout,
    "parse >> #[timeout(2s)] par(all) { search_web, search_papers, search_code } >> merge"
);
snapshot!(
    par_n_best_limit,
    "par(n_best(2, by = score), limit = 2, timeout = cfg.deadline) { a, b >> c, (|x: u32| x + 1) }"
);
snapshot!(
    bindings_block,
    "let src = checkout; let core = src >> compile; let ui = src >> style; (core, ui) >> package"
);
snapshot!(each_settled, "each(settled, limit = 4) { fetch_page }");
snapshot!(
    choose_if,
    "choose { if is_math => solve, if is_code => run_code >> explain, else => chat }"
);
snapshot!(
    choose_router,
    "choose(route) { Route::Web => search, Route::Code | Route::Docs => lookup, _ => fallback }"
);
snapshot!(
    focus_lens,
    "focus(Agent::memory.then(Memory::notes)) { summarize }"
);
snapshot!(
    bounded_loop,
    "loop(until = good_enough, max = 3, on_limit = stop) { critique >> revise }"
);
snapshot!(
    attributes,
    "#![name = \"publisher\"] #[retry(3, backoff = 100ms)] #[timeout(1.5s)] #[name = \"publish\"] publish(Channel::Web) >> blocking(render)"
);
snapshot!(
    par_quorum,
    "par(quorum(2, by = answer), timeout = 2s) { ask_a, ask_b, ask_c } >> each(quorum(3)) { (|n: u32| n % 2) }"
);
snapshot!(
    hedge_attributes,
    "#[hedge(after = 50ms)] lookup >> #[hedge(after = p95, max = 2, share = 10%, min_delay = 5ms, max_delay = cfg.slowest)] search"
);
snapshot!(
    layer_attribute,
    "#[timeout(1s)] #[layer(cache.clone())] fetch >> #[layer(audit)] store"
);

#[test]
fn long_chains_are_balanced_trees_of_seq() {
    let steps = vec!["step"; 30].join(" >> ");
    let out = expanded(&steps);
    // 30 steps: three groups of at most 12 under one root `seq`.
    assert_eq!(out.matches("nodes::seq((").count(), 4, "{out}");
    let steps = vec!["step"; 1000].join(" >> ");
    let tokens: TokenStream = steps.parse().unwrap();
    let out = expand_plan(tokens).to_string();
    // 1,000 steps: 12 groups of 84, each 7 groups of at most 12: 1 + 12 + 84 `seq`s.
    assert_eq!(out.matches("nodes :: seq").count(), 1 + 12 + 84);
}

#[test]
fn durations_use_the_most_readable_unit() {
    let out = expanded(
        "#[timeout(250ms)] a >> #[timeout(1.5s)] b >> #[timeout(1m)] c >> #[timeout(10us)] d",
    );
    for expected in [
        "from_millis(250)",
        "from_millis(1500)",
        "from_secs(60)",
        "from_micros(10)",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }
}

#[test]
fn nodes_record_their_line_and_column() {
    let out = expand_plan("parse\n    >> fetch".parse().unwrap()).to_string();
    assert!(
        out.contains(
            r#"__PlanNodeInfo :: new ("parse" , __PlanNodeKind :: Step , "0") . at (:: core :: file ! () , 1 , 1)"#
        ),
        "{out}"
    );
    assert!(
        out.contains(
            r#"__PlanNodeInfo :: new ("fetch" , __PlanNodeKind :: Step , "1") . at (:: core :: file ! () , 2 , 8)"#
        ),
        "{out}"
    );
}

/// A `macro_rules!` fragment (`plan! { $steps >> dbl }`) reaches the macro as an invisible
/// group; the source text of the item it forms must stop at the group's end.
#[test]
fn source_text_stops_after_an_invisible_group() {
    use proc_macro2::{Delimiter, Group, TokenTree};
    let fragment: TokenStream = "inc >> inc".parse().unwrap();
    let mut tokens: TokenStream = TokenTree::Group(Group::new(Delimiter::None, fragment)).into();
    tokens.extend(">> dbl".parse::<TokenStream>().unwrap());
    let expansion = expand_plan(tokens).to_string();
    let sources: Vec<&str> = expansion
        .split(r#"source (""#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    // `dbl`'s source is its name, so it is not repeated; no other source may reach into it.
    assert!(sources.iter().all(|s| !s.contains("dbl")), "{sources:?}");
    assert!(
        expansion.contains(r#"__PlanNodeInfo :: new ("dbl" , __PlanNodeKind :: Step ,"#),
        "{expansion}"
    );
}

#[test]
fn malformed_bindings_are_errors_on_the_name() {
    let cases = [
        ("let a = f;", "ends in its output, without `;`"),
        ("let a = f; a;", "remove this `;`"),
        (
            "let a = f; let a = a >> g; a",
            "`a` is already bound in this block",
        ),
        (
            "let a = f; let b = (a, c) >> g; b",
            "`c` is not bound in this block",
        ),
        (
            "let alpha = f; let b = (alphq, alpha) >> g; b",
            "`alphq` is not bound in this block; did you mean `alpha`?",
        ),
        (
            "let a = (a, b) >> f; let b = g; a",
            "`a` is read in its own binding",
        ),
        (
            "let a = (b, b) >> f; let b = g; a",
            "`b` is read before it is bound: move `let b` above this line",
        ),
        (
            "let a = b >> f; let b = g; a",
            "`b` is read before it is bound",
        ),
        (
            "let a = f; let b = g; b",
            "`a` is never read: read it in a later binding or the output, or name it `_a`",
        ),
        (
            "let a = f; let b = a >> g >> a; b",
            "`a` is a binding, not a step",
        ),
        (
            "let a = f; let b = a; b",
            "this binding only renames its sources",
        ),
        (
            "let a = f; let b = a g; b",
            "expected `>>` between the sources and the steps",
        ),
        (
            "let a = #[name = \"x\"] f; a",
            "the binding is named `a` by its `let`",
        ),
        ("let = f; a", "expected a name after `let`"),
        ("let a f; a", "expected `=` after `let a`"),
        ("let a = f >> ; a", "`>>` must be followed by a step"),
        ("a >> b; c", "`;` ends a `let` binding"),
        (
            "let a = f; a b",
            "unexpected tokens after the block's output",
        ),
    ];
    for (body, expected) in cases {
        let message = error(body);
        assert!(
            message.contains(expected),
            "{body:?}: expected {expected:?} in {message}"
        );
    }
}

#[test]
fn bindings_may_shadow_step_names_and_run_for_effects() {
    // A binding's own step may have the binding's name (it is read after the `let`), and
    // `_`-names need not be read.
    for body in [
        "let fetch = fetch; let parse = fetch >> parse; parse",
        "let a = f; let _audit = a >> audit; let _ = a >> log; a",
        "let a = f; let b = (a,) >> g; (a, b)",
        "x >> seq { let a = f; let b = a >> g; (a, b) } >> y",
    ] {
        let tokens: TokenStream = body.parse().unwrap();
        let expansion = expand_plan(tokens).to_string();
        assert!(!expansion.contains("compile_error"), "{body}: {expansion}");
    }
}

#[test]
fn malformed_plans_are_errors_with_hints() {
    let cases = [
        ("", "empty plan"),
        ("a >>", "must be followed by a step"),
        ("a b", "expected `>>`"),
        ("a >> , b", "must be followed by a step"),
        ("par {}", "empty `par`"),
        (
            "par(fastest) { a }",
            "unknown policy `fastest` (policies are",
        ),
        (
            "par(fist) { a }",
            "unknown policy `fist`; did you mean `first`?",
        ),
        (
            "each(setled) { a }",
            "unknown policy `setled`; did you mean `settled`?",
        ),
        (
            "par(all, deadline = 1s) { a }",
            "unknown `par` option `deadline` (options are",
        ),
        (
            "par(all, timout = 1s) { a }",
            "unknown `par` option `timout`; did you mean `timeout`?",
        ),
        ("each(all, limt = 2) { a }", "did you mean `limit`?"),
        (
            "par(all, limit = 0) { a }",
            "`limit = N` runs at most N branches at once, so N must be at least 1",
        ),
        (
            "par(n_best(0, by = s)) { a }",
            "keeps the best N branches, so N must be at least 1",
        ),
        (
            "loop(until = d, max = 0) { a }",
            "allows at most N passes, so N must be at least 1",
        ),
        (
            "#[retry(0)] a",
            "makes N attempts in all, so N must be at least 1",
        ),
        (
            "#[timout(1s)] a",
            "unknown plan attribute `timout`; did you mean `timeout`?",
        ),
        ("#[retries(3)] a", "did you mean `retry`?"),
        ("#[retry(3, backof = 1ms)] a", "did you mean `backoff`?"),
        (
            "loop(untill = d, max = 3) { a }",
            "unknown `loop` option `untill`; did you mean `until`?",
        ),
        (
            "loop(until = d, max = 3, on_limit = stp) { a }",
            "did you mean `stop`?",
        ),
        (
            "paralel(all) { a, b }",
            "unknown construct `paralel`: did you mean `par`?",
        ),
        (
            "chose { if p => a, else => b }",
            "unknown construct `chose`: did you mean `choose`?",
        ),
        (
            "#[timeout(5sec)] a",
            "unknown duration unit `sec`; did you mean `5s`?",
        ),
        ("#[timeout(100msec)] a", "did you mean `100ms`?"),
        ("#[timeout(2mins)] a", "did you mean `2m`?"),
        ("par(n_best(2)) { a }", "needs a score"),
        ("par(n_best()) { a }", "needs a count and a score"),
        ("par(best()) { a }", "needs a score"),
        (
            "par(all, timeout = 5parsecs) { a }",
            "unknown duration unit",
        ),
        ("#[timeout(250)] a", "has no unit"),
        ("#[timeout(\"1s\")] a", "expected a duration"),
        ("#[retry] a", "needs the number of attempts"),
        ("#[timeout] a", "needs a duration"),
        ("focus { a }", "needs a lens"),
        ("each { a }", "needs a policy"),
        ("#[retry()] a", "needs the number of attempts"),
        ("#[retry(3, jitter = 1)] a", "only option is `backoff"),
        ("#[layer] a", "`#[layer]` needs a layer: `#[layer(cache)]`"),
        ("#[layer()] a", "`#[layer]` needs a layer"),
        ("#[layer(cache, log)] a", "it takes one layer"),
        ("#[layr(cache)] a", "did you mean `layer`?"),
        (
            "#[cache] a",
            "unknown plan attribute `cache` (plan attributes are",
        ),
        ("#[name = \"x\"] #[name = \"y\"] a", "one `#[name]`"),
        ("choose { if p => a }", "needs a final `else"),
        ("choose { else => a, if p => b }", "must be the last arm"),
        ("choose { p => a }", "arms are `if condition"),
        ("choose() { A => a }", "takes a router"),
        ("choose(r) {}", "empty `choose`"),
        ("loop(until = done) { a }", "needs `max = N`"),
        ("loop(max = 3) { a }", "needs a condition"),
        ("loop { a }", "needs a condition and a bound"),
        ("loop(until = a, while = b, max = 2) { x }", "one condition"),
        (
            "loop(until = d, max = 3, max = 4) { a }",
            "`max` is given twice",
        ),
        (
            "loop(until = d, max = 3, on_limit = stop, on_limit = error) { a }",
            "`on_limit` is given twice",
        ),
        ("#[timeout(18446744073709551617ms)] a", "too large"),
        (
            "loop(until = done, max = 3, forever = yes) { a }",
            "unknown `loop` option `forever` (loop options are",
        ),
        ("focus() { a }", "needs a lens"),
        ("focus(A::b) {}", "empty `focus` body"),
        ("focus(A::b) { a, b }", "one chain of steps"),
        ("each(all) {}", "empty `each` body"),
        ("each() { a }", "needs a policy"),
        ("|x: u32| x + 1", "closures in a plan go in parentheses"),
        ("client.search", "wrap it in a closure"),
        ("42", "found a literal"),
        ("if x => y", "go inside `choose"),
        ("()", "expected a step inside"),
        ("#![cache] a", "inner attributes of a plan are"),
        ("#[durable(always)] a", "`#[durable]` takes no arguments"),
        (
            "#[durable] #[retry(2)] #[durable] a",
            "a node has one `#[durable]`",
        ),
        ("#![durable] #![durable] a", "a plan has one `#![durable]`"),
        ("#![durable(x)] a", "it takes no arguments"),
        (
            "#![name = \"a\"] #![name = \"b\"] a",
            "a plan has one `#![name]`",
        ),
        ("a >> #![name = \"x\"] b", "inner attributes"),
        (
            "par { a, b, c, d, e, f, g, h, i, j, k, l, m }",
            "at most 12 branches",
        ),
        (
            "par(quorum) { a }",
            "`quorum` needs how many branches must agree",
        ),
        (
            "par(quorum()) { a }",
            "`quorum` needs how many branches must agree",
        ),
        (
            "par(quorum(0)) { a }",
            "`quorum(K)` needs K agreeing branches, so K must be at least 1",
        ),
        (
            "par(quorum(3)) { a, b }",
            "`quorum(3)` needs 3 agreeing branches, but this `par` has 2",
        ),
        ("par(quorum(2, bye = k)) { a, b }", "did you mean `by`?"),
        (
            "par(quorum(2, by = k, x)) { a, b }",
            "unexpected tokens in `quorum(..)`",
        ),
        ("par(qorum(2)) { a, b }", "did you mean `quorum`?"),
        ("#[hedge] a", "`#[hedge]` needs a delay"),
        ("#[hedge(max = 2)] a", "`#[hedge]` needs a delay"),
        ("#[hedge(after = p0)] a", "`p0` is not a percentile"),
        ("#[hedge(after = p100)] a", "`p100` is not a percentile"),
        (
            "#[hedge(after = 50ms, after = 1s)] a",
            "`after` is given twice",
        ),
        ("#[hedge(after = 50ms, maxx = 2)] a", "did you mean `max`?"),
        ("#[hedge(after = 50ms, max = 0)] a", "must be at least 1"),
        (
            "#[hedge(after = p95, max = 1s)] a",
            "the longest delay is `max_delay = 1s`",
        ),
        ("#[hedge(after = 50ms, share = 0%)] a", "would never hedge"),
        ("#[hedge(after = 50ms, share = 150%)] a", "at most 100%"),
        ("#[hedge(after = 50ms, share = 5)] a", "`share = 5%`"),
        (
            "#[hedge(after = 50ms, share = \"5%\")] a",
            "`share = 5%` or `share = 0.05`",
        ),
        (
            "#[hedge(after = 50ms, min_delay = 5ms)] a",
            "bound a percentile delay (`after = p95`)",
        ),
        ("#[hedg(after = 50ms)] a", "did you mean `hedge`?"),
    ];
    for (body, hint) in cases {
        let message = error(body);
        assert!(
            message.contains(hint),
            "{body:?}: expected {hint:?} in {message}"
        );
    }
}

/// One mistake, one error: a misspelled policy is reported once.
#[test]
fn a_misspelled_policy_is_one_error() {
    let message = error("par(fist) { a, b }");
    assert_eq!(message.matches("compile_error").count(), 1, "{message}");
}

#[test]
fn trailing_commas_are_accepted_everywhere() {
    for body in [
        "focus(S::f,) { a }",
        "blocking(f,)",
        "choose(route,) { A => a, }",
        "#[timeout(2s,)] a",
        "#[retry(3, backoff = 1ms,)] a",
        "#[layer(cache,)] a",
        "par(all, limit = 2,) { a, b, }",
        "loop(until = d, max = 3,) { a }",
    ] {
        let out = expand_plan(body.parse().unwrap()).to_string();
        assert!(!out.contains("compile_error"), "{body}: {out}");
    }
}

#[test]
fn parentheses_around_arguments_are_not_kept() {
    // Kept parentheses would make rustc warn `unused_parens` on the user's code.
    let out = expanded(
        "loop(until = (|n: &u32| *n > 3), max = (5)) { (|n: u32| n + 1) } >> par(best(by = (score))) { a }",
    );
    // The recorded source text keeps what the user wrote; the code does not.
    let code: String = out
        .lines()
        .filter(|line| {
            !line.contains(".source(") && !line.contains(".policy(") && !line.contains("message =")
        })
        .collect();
    assert!(
        !code.contains("((|") && !code.contains("(5)") && !code.contains("(score)"),
        "{out}"
    );
}

/// Every prefix of valid plans (truncated input) is answered with an error or an expansion.
#[test]
fn truncated_plans_never_panic() {
    let plans = [
        "parse >> #[timeout(2s)] par(all) { web, papers } >> merge",
        "par(n_best(2, by = score), limit = 3) { a, b >> c } >> each(settled, timeout = 1s) { d }",
        "choose(route) { R::A | R::B if ok => a >> b, _ => c } >> focus(S::f) { g }",
        "loop(while = more, max = 10, on_limit = stop) { #[retry(2, backoff = 10ms)] step(1, \"x\") }",
        "par(quorum(2, by = key), timeout = 1s) { a, b, c } >> each(quorum(3)) { #[hedge(after = p95, max = 2, share = 5%, min_delay = 1ms, max_delay = 1s)] d }",
        "#![name = \"p\"] choose { if p => seq { a >> b }, else => blocking(c) }",
        "let a = f; let b = #[retry(2)] a >> g; let _c = (a, b) >> h; (a, b) >> seq { let x = k; x }",
    ];
    for plan in plans {
        let tokens: Vec<_> = plan.parse::<TokenStream>().unwrap().into_iter().collect();
        for end in 0..=tokens.len() {
            let _ = expand_plan(tokens[..end].iter().cloned().collect());
        }
    }
}

/// Words and punctuation plans are made of, for generated token soup.
const SOUP: &[&str] = &[
    "par",
    "each",
    "choose",
    "focus",
    "loop",
    "seq",
    "blocking",
    "let",
    ";",
    "all",
    "settled",
    "first",
    "first_completed",
    "n_best",
    "best",
    "by",
    "timeout",
    "limit",
    "while",
    "until",
    "max",
    "on_limit",
    "stop",
    "if",
    "else",
    "retry",
    "backoff",
    "name",
    "a",
    "b",
    "x",
    ">>",
    ",",
    "=",
    "=>",
    "|",
    "#",
    "!",
    "::",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "2s",
    "250ms",
    "1.5s",
    "3",
    "\"n\"",
    "_",
    ".",
    "&",
    "move",
    "async",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random token soup never makes the macro panic.
    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(SOUP), 0..24)) {
        // Unbalanced delimiters do not tokenize; those inputs never reach a macro.
        if let Ok(tokens) = words.join(" ").parse::<TokenStream>() {
            let _ = expand_plan(tokens);
        }
    }
}

/// The macro's own time (tokenize excluded: parse + expand) on every plan text in the
/// directory `PLAN_EXPANSION_INPUTS`, one JSON line per file. Run by `bench/compile/run.py`;
/// ignored otherwise, since it measures rather than checks.
#[test]
#[ignore = "a measurement, run by bench/compile/run.py"]
fn expansion_time() {
    let dir = std::env::var("PLAN_EXPANSION_INPUTS").expect("PLAN_EXPANSION_INPUTS is a directory");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let tokens: TokenStream = std::fs::read_to_string(&file).unwrap().parse().unwrap();
        let expansion = expand_plan(tokens.clone()).to_string();
        assert!(
            !expansion.contains("compile_error"),
            "{file:?} does not expand"
        );
        let rounds = 20;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(expand_plan(tokens.clone()));
        }
        let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        let plan = file.file_stem().unwrap().to_string_lossy();
        println!(r#"{{"plan": "{plan}", "micros": {micros:.1}}}"#);
    }
}
