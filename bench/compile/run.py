#!/usr/bin/env python3
"""Compile time of plans of 10, 100 and 500 nodes: `plan!` against the same plan by hand.

Generates a scratch Cargo package (outside the workspace, under `target/bench/compile/`) with
one binary per variant, builds the dependencies once, then times `cargo build --bin X` for each
variant. Each variant is its own crate, so its time is the time of that plan alone: macro
expansion, type checking, monomorphization and code generation of one `main` that builds and
runs the plan. It also times the macro's own expansion of each plan (parse + expand, without
rustc), through an ignored unit test in `plan-macros`.

The plan is a chain of units of 10 nodes each (a node is an item with its own identity: a
step, a group, or a branch of one), mixing the constructs a real plan uses:

    inc >> #[timeout(1s)] inc >> par(all) { inc, inc, inc } >> #[retry(3)] sum3
        >> choose { if is_even => inc, else => dec }

"By hand" is that plan written against `plan_runtime::nodes` — the combinators `plan!`
expands to — the way the crate documentation shows: a `static NodeInfo` per node and `step!`
leaves, with long chains split into nested `seq` tuples of at most 12 (the widest `seq`).
What the hand version lacks is what the macro adds: the wiring checks that put type errors
on the offending step.

Writes `target/bench/compile.json`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "bench" / "compile"
SIZES = (10, 100, 500)
UNIT_NODES = 10
SEQ_WIDTH = 12

STEPS = """\
//! The steps every generated plan uses: trivial, so the plans differ only in shape.

pub async fn inc(x: u64) -> u64 {
    x.wrapping_add(1)
}

pub fn dec(x: u64) -> u64 {
    x.wrapping_sub(1)
}

pub fn sum3((a, b, c): (u64, u64, u64)) -> u64 {
    a.wrapping_add(b).wrapping_add(c) % 1_000_003
}

pub fn is_even(x: &u64) -> bool {
    x % 2 == 0
}
"""

MAIN = """\
#[path = "../steps.rs"]
mod steps;

#[allow(unused_imports)]
use plan_runtime::prelude::*;
#[allow(unused_imports)]
use steps::*;

{items}

fn main() {{
    let plan = {plan};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    println!("{{}}", rt.block_on(plan.run(1)).expect("the plan runs"));
}}
"""


def plan_body(units: int) -> str:
    """The plan language text of a chain of `units` units."""
    unit = (
        "inc >> #[timeout(1s)] inc >> par(all) { inc, inc, inc } >> #[retry(3)] sum3 "
        ">> choose { if is_even => inc, else => dec }"
    )
    return "\n    >> ".join([unit] * units)


def balanced(items: list[str]) -> str:
    """`seq((..))` of at most 12 items, nested when longer: how one writes a long chain."""
    if len(items) == 1:
        return items[0]
    if len(items) <= SEQ_WIDTH:
        return "seq((" + ", ".join(items) + ",))"
    groups = min(-(-len(items) // SEQ_WIDTH), SEQ_WIDTH)
    size = -(-len(items) // groups)
    return balanced([balanced(items[i : i + size]) for i in range(0, len(items), size)])


def hand_written(units: int) -> tuple[str, str]:
    """The same plan against `plan_runtime::nodes`: (the statics, the plan expression)."""
    statics = ['static PLAN: NodeInfo = NodeInfo::new("plan", NodeKind::Plan, "");']
    counter = iter(range(units * UNIT_NODES))

    def info(name: str, kind: str, path: str) -> str:
        ident = f"N{next(counter)}"
        statics.append(f'static {ident}: NodeInfo = NodeInfo::new("{name}", NodeKind::{kind}, "{path}");')
        return ident

    items = []
    for u in range(units):
        at = 5 * u  # each unit is five items of the chain
        items.append(f'leaf(&{info("inc", "Step", str(at))}, step!(inc))')
        items.append(
            f'leaf(&{info("inc", "Step", str(at + 1))}, '
            "timeout(Duration::from_secs(1), step!(inc)))"
        )
        group = info("par", "Par", str(at + 2))
        branches = ", ".join(f'leaf(&{info("inc", "Step", f"{at + 2}/{b}")}, step!(inc))' for b in range(3))
        items.append(f"node(&{group}, par(All, ({branches})))")
        items.append(f'leaf(&{info("sum3", "Step", str(at + 3))}, retry(3, Duration::ZERO, step!(sum3)))')
        choose = info("choose", "Choose", str(at + 4))
        then = f'arm("is_even", leaf(&{info("inc", "Step", f"{at + 4}/0")}, step!(inc)))'
        otherwise = f'arm("else", leaf(&{info("dec", "Step", f"{at + 4}/1")}, step!(dec)))'
        items.append(f"node(&{choose}, if_else(is_even, {then}, {otherwise}))")
    imports = (
        "use plan_runtime::nodes::{arm, if_else, leaf, node, par, retry, root, seq, timeout};\n"
        "use plan_runtime::policy::All;\n"
        "use plan_runtime::{NodeInfo, NodeKind, step};\n"
    )
    return imports + "\n".join(statics), f"root(&PLAN, {balanced(items)})"


def generate() -> None:
    """Writes the scratch package: one binary per (variant, size), and the plan texts."""
    (OUT / "src" / "bin").mkdir(parents=True, exist_ok=True)
    (OUT / "plans").mkdir(exist_ok=True)
    runtime = ROOT / "plan-runtime"
    (OUT / "Cargo.toml").write_text(
        "[package]\n"
        'name = "plan-compile-bench"\n'
        'version = "0.0.0"\n'
        'edition = "2024"\n'
        "publish = false\n\n"
        "# Not a member of the project's workspace.\n"
        "[workspace]\n\n"
        "[dependencies]\n"
        f'plan-runtime = {{ path = "{runtime}" }}\n'
        'tokio = { version = "1", default-features = false, features = ["rt", "time"] }\n'
    )
    (OUT / "src" / "steps.rs").write_text(STEPS)
    bins = OUT / "src" / "bin"
    (bins / "warm.rs").write_text(MAIN.format(items="", plan="plan! { inc }"))
    for n in SIZES:
        units = n // UNIT_NODES
        body = plan_body(units)
        (OUT / "plans" / f"plan_{n}.txt").write_text(body)
        (bins / f"plan_{n}.rs").write_text(MAIN.format(items="", plan=f"plan! {{\n    {body}\n}}"))
        statics, expr = hand_written(units)
        (bins / f"hand_{n}.rs").write_text(MAIN.format(items=statics, plan=expr))


# Incremental compilation off, so every repeat is a full build of the crate, as in CI. Every
# cargo call uses the same setting, or the next one would rebuild the dependencies.
NOT_INCREMENTAL = {"CARGO_INCREMENTAL": "0"}


def cargo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["cargo", *args],
        cwd=OUT,
        env={**os.environ, **NOT_INCREMENTAL},
        check=True,
        capture_output=True,
        text=True,
    )


def build_seconds(binary: str, repeats: int) -> list[float]:
    """Wall time of `cargo build --bin binary`, forcing that crate (only) to rebuild."""
    times = []
    for _ in range(repeats):
        (OUT / "src" / "bin" / f"{binary}.rs").touch()
        start = time.perf_counter()
        cargo("build", "--quiet", "--bin", binary)
        times.append(time.perf_counter() - start)
    return times


def expansion_micros(plans: Path = OUT / "plans") -> dict[str, float]:
    """The macro's own time per plan text in `plans`, from `plan-macros`' ignored
    `expansion_time` test."""
    done = subprocess.run(
        ["cargo", "test", "--quiet", "-p", "plan-macros", "--lib", "expansion_time", "--", "--ignored", "--nocapture"],
        cwd=ROOT,
        env={**os.environ, "PLAN_EXPANSION_INPUTS": str(plans)},
        check=True,
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return {entry["plan"]: entry["micros"] for entry in map(json.loads, lines)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="builds per variant (median kept)")
    parser.add_argument("--quick", action="store_true", help="10 and 100 nodes, one build each")
    args = parser.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES
    repeats = 1 if args.quick else args.repeats

    generate()
    print("compile: building the dependencies", file=sys.stderr)
    cargo("build", "--quiet", "--bin", "warm")
    expansion = expansion_micros()
    rows = []
    for n in sizes:
        row = {"nodes": n, "expansion_ms": expansion[f"plan_{n}"] / 1000}
        for variant in ("plan", "hand"):
            times = build_seconds(f"{variant}_{n}", repeats)
            row[f"{variant}_build_s"] = statistics.median(times)
            row[f"{variant}_builds"] = times
            # Both variants must compute the same thing, or the comparison is void.
            row[f"{variant}_output"] = cargo("run", "--quiet", "--bin", f"{variant}_{n}").stdout.strip()
        if row["plan_output"] != row["hand_output"]:
            sys.exit(f"plan_{n} and hand_{n} disagree: {row['plan_output']} vs {row['hand_output']}")
        print(
            f"compile: {n} nodes: plan! {row['plan_build_s']:.2f} s, by hand {row['hand_build_s']:.2f} s, "
            f"expansion {row['expansion_ms']:.1f} ms",
            file=sys.stderr,
        )
        rows.append(row)
    (ROOT / "target" / "bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "target" / "bench" / "compile.json").write_text(json.dumps({"profile": "dev", "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
