//! Compile-time UI tests of `plan!` and `#[derive(Lens)]`: well-formed plans compile (and run),
//! malformed plans and wiring mistakes fail with the diagnostics pinned in `tests/ui/fail/*.stderr`.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test ui`, then read them.

#[test]
fn ui() {
    {
        let t = trybuild::TestCases::new();
        t.pass("tests/ui/pass/*.rs");
        t.compile_fail("tests/ui/fail/*.rs");
        // Dropping `t` runs the cases (and, with `TRYBUILD=overwrite`, rewrites the files).
    }
    hygiene();
    one_short_error();
    headlines_name_the_users_code();
}

/// The `plan!` diagnostics speak of the user's steps and types only: no hidden module,
/// generated constant, step adapter, node wrapper, shadow type, trait of `plan_runtime::wiring`
/// or `wiring.rs` note of ours in any pinned `.stderr`, and no "not implemented for `()`".
fn hygiene() {
    let mut checked = 0;
    for entry in std::fs::read_dir("tests/ui/fail").expect("tests/ui/fail exists") {
        let path = entry.expect("readable").path();
        if path.extension().is_none_or(|e| e != "stderr") {
            continue;
        }
        let stderr = std::fs::read_to_string(&path).expect("readable");
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // A run awaited with the wrong input or without its context: rustc quotes the plan's
        // type in the notes under the message (see `LONGER`); the message and the fix lead.
        if AT_THE_AWAIT.contains(&&*name) {
            let first = stderr.lines().next().unwrap_or_default();
            assert!(first.contains("this is not a plan that takes"), "{stderr}");
            assert!(
                stderr.contains("runs with `plan.run(input).ctx(&ctx)`"),
                "{stderr}"
            );
            continue;
        }
        // The same without its context: the first line names the context the steps take.
        if WITHOUT_CONTEXT.contains(&&*name) {
            let first = stderr.lines().next().unwrap_or_default();
            assert!(
                first.contains(
                    "this plan's steps take a context `&Config`, but its run is not given one"
                ),
                "{stderr}"
            );
            assert!(
                stderr.contains("give the run its context before it is awaited: `plan.run(input).ctx(&ctx)`, where `ctx: Config`"),
                "{stderr}"
            );
            continue;
        }
        for internal in [
            "__private",
            "__PLAN",
            "__plan_",
            "FnStep",
            "Probe",
            "Leaf<",
            "Node<",
            "Root<",
            "Returns<",
            "Awaits<",
            "Known<",
            "Pair<",
            "Sig<",
            "Connects",
            "wiring.rs",
            "plan_runtime::wiring",
            "not implemented for `()`",
            "{closure#",
        ] {
            assert!(
                !stderr.contains(internal),
                "`{internal}` leaks into {}:\n{stderr}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 80, "only {checked} .stderr files");
}

/// Errors at the `.await` of a run that does not fit its plan: the first line names the input
/// and context and the notes say the fix, but rustc adds the plan's type to its help lines.
const AT_THE_AWAIT: &[&str] = &["run_input_mismatch.stderr"];

/// Errors at the `.await` of a run of a plan whose steps take `&Config`, not given one.
const WITHOUT_CONTEXT: &[&str] = &[
    "ctx_plan_run_without_ctx.stderr",
    "ctx_plan_result_used_without_ctx.stderr",
];

/// Cases whose error is longer than 12 lines, and why.
const LONGER: &[(&str, &str)] = &[
    (
        "ctx_plan_run_without_ctx.stderr",
        "rustc adds the bounds that led to the unmet one (the plan's `Plan`, the `Future` of \
         `Run`), each naming the plan's type; the message, the context type and the fix come \
         first, in 8 lines",
    ),
    (
        "ctx_plan_result_used_without_ctx.stderr",
        "as `ctx_plan_run_without_ctx`: the result used after the `.await` adds nothing",
    ),
    (
        "run_input_mismatch.stderr",
        "rustc lists the step types that do implement `Plan` and the bounds that led to the \
         unmet one; the message and the fix come first",
    ),
];

/// Every mistake is one error, of at most 12 lines, except where rustc adds lines of its
/// own that a macro cannot take away (listed, with why).
fn one_short_error() {
    let stderr = std::fs::read_to_string("tests/ui/fail/hygiene_mismatch.stderr")
        .expect("hygiene_mismatch.stderr exists");
    assert!(
        stderr.contains("`publish` takes `Answer`, but `ask` gives `Question`"),
        "{stderr}"
    );
    for entry in std::fs::read_dir("tests/ui/fail").expect("tests/ui/fail exists") {
        let path = entry.expect("readable").path();
        if path.extension().is_none_or(|e| e != "stderr") {
            continue;
        }
        let stderr = std::fs::read_to_string(&path).expect("readable");
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if LONGER.iter().any(|(file, _)| *file == name) {
            continue;
        }
        let errors = stderr.matches("\nerror").count() + usize::from(stderr.starts_with("error"));
        assert_eq!(
            errors,
            1,
            "more than one error in {}:\n{stderr}",
            path.display()
        );
        let first = stderr.split("\n\n").next().unwrap_or_default();
        assert!(
            first.lines().count() <= 12,
            "{} lines in the error of {}:\n{first}",
            first.lines().count(),
            path.display()
        );
    }
}

/// The first line of a type check's error, all that `cargo check --message-format short`
/// shows, names the user's code that it points at (a step, a function, a binding, a policy or
/// an attribute as written), not only a type: some code it quotes is on the line it shows.
fn headlines_name_the_users_code() {
    let mut checked = 0;
    for entry in std::fs::read_dir("tests/ui/fail").expect("tests/ui/fail exists") {
        let path = entry.expect("readable").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.extension().is_none_or(|e| e != "stderr")
            || AT_THE_AWAIT.contains(&&*name)
            || WITHOUT_CONTEXT.contains(&&*name)
        {
            continue;
        }
        let stderr = std::fs::read_to_string(&path).expect("readable");
        let headline = stderr.lines().next().unwrap_or_default();
        if !headline.starts_with("error[E") {
            continue;
        }
        // The first source line shown: `15 |     let plan = plan! { parse >> merge };`.
        let shown = stderr
            .lines()
            .filter_map(|line| line.split_once(" | "))
            .find(|(number, _)| {
                let number = number.trim();
                !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
            })
            .map(|(_, code)| code)
            .unwrap_or_else(|| panic!("no source line in {}:\n{stderr}", path.display()));
        let quoted: Vec<&str> = headline.split('`').skip(1).step_by(2).collect();
        assert!(
            quoted.iter().any(|code| shown.contains(code)),
            "the first line of {} quotes none of the code it points at ({shown:?}):\n{headline}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 40, "only {checked} type checks");
}
