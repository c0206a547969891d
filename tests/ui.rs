//! Compile-time UI tests of `plan!` and `#[derive(Lens)]`: well-formed plans compile (and run),
//! malformed plans and wiring mistakes fail with the diagnostics pinned in `tests/ui/fail/*.stderr`.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

/// The `plan!` diagnostics name user-level things only: no hidden module, generated constant,
/// step adapter or node wrapper of ours.
#[test]
fn hygiene() {
    let stderr = std::fs::read_to_string("tests/ui/fail/hygiene_mismatch.stderr")
        .expect("hygiene_mismatch.stderr exists (run the `ui` test first)");
    assert!(stderr.contains("this step takes `Answer`, but it is given `Question`"));
    for internal in [
        "__private",
        "__PLAN_NODE",
        "__plan_",
        "FnStep",
        "Probe",
        "Leaf<",
        "Node<",
        "Root<",
        "Returns<",
        "Awaits<",
    ] {
        assert!(
            !stderr.contains(internal),
            "`{internal}` leaks into:\n{stderr}"
        );
    }
}
