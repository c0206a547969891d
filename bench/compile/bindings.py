#!/usr/bin/env python3
"""Compile time of a `plan!` of 200 `let` bindings against a 200-step `plan!` chain.

Uses the scratch package of `run.py` (under `target/bench/compile/`, dependencies built once)
and its way of timing a build: one binary per variant, `cargo build --bin X` after touching
it, incremental compilation off. Three binaries, 200 steps each, all trivial:

- `chain_200`: `inc >> inc >> ...`, the shape `run.py` already measures;
- `line_200`: the same 200 `inc`s as bindings, each reading the one above: the cost of
  writing a chain as bindings, with nothing else changed;
- `dag_200`: 200 bindings, each reading the one above, and every other one also a binding
  halfway up (`let b{k} = (b{k-1}, b{k/2-1}) >> add2;`), so half the steps are a two-input
  `add2` instead of `inc` and the graph has long edges; every binding is read (some twice,
  so cloned), the last one is the output.

It also times the macro's own expansion of each plan (parse + expand, without rustc).

Writes `target/bench/compile_bindings.json`.
"""

import argparse
import json
import statistics
import sys

# No `__pycache__` for `run.py` beside the sources: nothing ignores it there.
sys.dont_write_bytecode = True
import run as compile_run  # noqa: E402 (after the line above, or it writes one)

SIZE = 200

# A two-input step for the graph; defined in every binary so that the three differ only in
# their plan.
ITEMS = """\
#[allow(dead_code)]
fn add2((a, b): (u64, u64)) -> u64 {
    a.wrapping_add(b) % 1_000_003
}
"""


def chain(n: int) -> str:
    return " >> ".join(["inc"] * n)


def line(n: int) -> str:
    lets = ["let b0 = inc;"] + [f"let b{k} = b{k - 1} >> inc;" for k in range(1, n)]
    return "\n    ".join(lets + [f"b{n - 1}"])


def dag(n: int) -> str:
    lets = ["let b0 = inc;"]
    for k in range(1, n):
        if k % 2 == 0:
            # Halfway up, and never the binding above (that would read one name twice).
            lets.append(f"let b{k} = (b{k - 1}, b{k // 2 - 1}) >> add2;")
        else:
            lets.append(f"let b{k} = b{k - 1} >> inc;")
    return "\n    ".join(lets + [f"b{n - 1}"])


VARIANTS = {"chain": chain, "line": line, "dag": dag}


def generate() -> None:
    """The scratch package as `run.py` writes it, plus this script's binaries and plan texts."""
    compile_run.generate()
    plans = compile_run.OUT / "plans_bindings"
    plans.mkdir(exist_ok=True)
    for variant, body in VARIANTS.items():
        text = body(SIZE)
        (plans / f"{variant}_{SIZE}.txt").write_text(text)
        main = compile_run.MAIN.format(items=ITEMS, plan=f"plan! {{\n    {text}\n}}")
        (compile_run.OUT / "src" / "bin" / f"{variant}_{SIZE}.rs").write_text(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="builds per variant (median kept)")
    parser.add_argument("--quick", action="store_true", help="one build each")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    generate()
    print("compile (bindings): building the dependencies", file=sys.stderr)
    compile_run.cargo("build", "--quiet", "--bin", "warm")
    expansion = compile_run.expansion_micros(compile_run.OUT / "plans_bindings")
    rows = []
    for variant in VARIANTS:
        binary = f"{variant}_{SIZE}"
        times = compile_run.build_seconds(binary, repeats)
        output = compile_run.cargo("run", "--quiet", "--bin", binary).stdout.strip()
        rows.append(
            {
                "variant": variant,
                "steps": SIZE,
                "build_s": statistics.median(times),
                "builds": times,
                "expansion_ms": expansion[binary] / 1000,
                "output": output,
            }
        )
        print(
            f"compile (bindings): {binary}: {rows[-1]['build_s']:.2f} s, "
            f"expansion {rows[-1]['expansion_ms']:.1f} ms, output {output}",
            file=sys.stderr,
        )
    # The chain and the line of bindings run the same 200 steps: if they disagree, the
    # bindings are wired wrong and their time means nothing.
    by = {row["variant"]: row for row in rows}
    if by["chain"]["output"] != by["line"]["output"]:
        sys.exit(f"chain_{SIZE} and line_{SIZE} disagree: {by['chain']['output']} vs {by['line']['output']}")
    out = compile_run.ROOT / "target" / "bench" / "compile_bindings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"profile": "dev", "repeats": repeats, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
