#!/usr/bin/env python3
"""Writes `bench/RESULTS.md` from what `bench/run` measured: criterion's estimates under
`target/criterion/`, and the JSON that the memory, compile-time and peer runs left under
`target/bench/`. Every figure in the file comes from those; nothing is typed in by hand.

Beside it, `bench/results.csv`: every figure of RESULTS.md's tables, one row each
(`section,measurement,value,unit`), durations in seconds and sizes in bytes, so that results
can be plotted and compared across commits.

`python3 bench/report.py --update "Single constructs" "Layers"` regenerates only the sections
whose headings start so, after their benches were rerun on their own (`cargo bench -p ..
--bench ..`); a figure of them whose bench did not run is kept, and so are the other sections.
"""

import csv
import io
import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Criterion writes under cargo's target directory, which `CARGO_TARGET_DIR` may move.
CRITERION = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion"
DATA = ROOT / "target" / "bench"
FAN_OUT_SIZES = (10, 100, 1000, 10_000, 100_000)
CHAIN_SIZES = (10, 100, 1000, 10_000)
HAND_FAN_OUTS = (("futures_unordered", "`FuturesUnordered`"), ("join_all", "`join_all`"), ("join_set", "`JoinSet`"))


def ns(*path: str | int) -> float | None:
    """Criterion's median estimate for one benchmark, in ns (None if it did not run)."""
    estimates = CRITERION.joinpath(*map(str, path), "new", "estimates.json")
    if not estimates.exists():
        return None
    return json.loads(estimates.read_text())["median"]["point_estimate"]


def load(name: str) -> dict | None:
    path = DATA / name
    return json.loads(path.read_text()) if path.exists() else None


def human(seconds: float | None) -> str:
    """A duration with three significant figures and a readable unit."""
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    raise AssertionError


def seconds(nanos: float | None) -> float | None:
    """Criterion's nanoseconds in seconds, keeping a missing figure missing."""
    return None if nanos is None else nanos * 1e-9


def human_ns(nanos: float | None) -> str:
    return human(seconds(nanos))


def ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"MemTotal:\s*(\d+)", meminfo)
    return table(
        ["", ""],
        [
            ["CPU", model.group(1) if model else platform.processor() or "unknown"],
            ["cores", command("nproc")],
            ["memory", f"{int(mem.group(1)) / 2**20:.1f} GiB" if mem else "unknown"],
            ["OS", f"{platform.system()} {platform.release()}"],
            ["Rust", command("rustc", "--version")],
            ["peers", peer_versions()],
        ],
    )


def peer_versions() -> str:
    versions = [p["version"] for p in (load("peers/asyncio.json"), load("peers/langgraph.json")) if p]
    return "; ".join(versions) or "not run"


def peer(name: str) -> dict:
    return load(f"peers/{name}.json") or {}


def peer_row(data: dict, shape: str, n: int) -> dict | None:
    return next((row for row in data.get(shape, []) if row["n"] == n), None)


def chain_section(asyncio: dict, langgraph: dict) -> tuple[str, list[list[str]]]:
    rows, worst = [], None
    for n in CHAIN_SIZES:
        plan, reported, hand = (ns("chain", v, n) for v in ("plan", "plan_reported", "hand"))
        py = peer_row(asyncio, "chain", n)
        lg = peer_row(langgraph, "chain", n)
        per = lambda t: None if t is None else t / n * 1e-9  # noqa: E731 (ns per run -> s per step)
        rows.append(
            [
                f"{n:,}",
                human(per(plan)),
                human(per(hand)),
                ratio(plan, hand),
                human(per(reported)),
                human(py["per_step_ns"] * 1e-9) if py else "—",
                human(lg["per_step_ns"] * 1e-9) if lg else "—",
            ]
        )
        if plan and hand:
            worst = max(worst or 0, plan / hand)
    text = (
        "## Sequence of N trivial steps\n\n"
        "Each step is `x + 1` behind an `async fn`, so the figures are pure overhead: a plan's "
        "step carries its identity and the name a panic is blamed on, and the sequences around "
        "it (12 steps wide, nested) check once per run whether anyone observes it (a run report "
        "does); the hand-written chain is N `.await`s that the compiler folds together. Time per "
        "step (a run divided by N), median; at 10 and 100 steps, what every run pays once (its "
        "root, its panic boundary) weighs on the figure. 10,000 is ten 1,000-step plans in a "
        "plan.\n\n"
        + table(
            ["N", "`plan!`", "hand-written", "ratio", "`plan!`, reported", "asyncio", "LangGraph"],
            rows,
        )
        + "\n\n" + NOT_RUN_BY_PEERS
    )
    target = ["per-step overhead within 1.2× of hand-written (worst N)", f"{worst:.2f}×" if worst else "—", met(worst, 1.2)]
    return text, [target]


NOT_RUN_BY_PEERS = (
    "A peer's \"—\" is a size it does not run: the Python peers run chains of 100 and 1,000 "
    "and fan-outs up to 10,000 only."
)


def met(value: float | None, limit: float) -> str:
    return "—" if value is None else ("met" if value <= limit else "**missed**")


def fan_out_section(asyncio: dict, langgraph: dict) -> tuple[str, list[list[str]]]:
    floor = ns("fan_out", "sleep_alone")
    rows, overhead_rows, targets = [], [], []
    for n in FAN_OUT_SIZES:
        plan = ns("fan_out", "plan_each", n)
        hands = [ns("fan_out", v, n) for v, _ in HAND_FAN_OUTS]
        py = peer_row(asyncio, "fan_out", n)
        lg = peer_row(langgraph, "fan_out", n)
        rows.append(
            [f"{n:,}", human_ns(plan)]
            + [human_ns(h) for h in hands]
            + [ratio(plan, hands[0]), human(py["wall_s"]) if py else "—", human(lg["wall_s"]) if lg else "—"]
        )
        over = lambda t: None if t is None or floor is None else max(t - floor, 0) / n * 1e-9  # noqa: E731
        if n >= 1000:  # below, a run is 11 ms either way: the difference is timer jitter
            overhead_rows.append([f"{n:,}", human(over(plan))] + [human(over(h)) for h in hands])
        if n == 10_000:
            value = plan / hands[0] if plan and hands[0] else None
            targets.append(["10,000 × 10 ms fan-out within 1.3× of `FuturesUnordered`, wall", f"{value:.2f}×" if value else "—", met(value, 1.3)])
        if n == 100_000:
            targets.append(["a 100,000-branch fan-out completes", human_ns(plan), "met" if plan else "**missed**"])
    par, join = ns("fan_out", "plan_par", 10), ns("fan_out", "join_macro", 10)
    text = (
        "## Fan-out: N branches that each sleep 10 ms\n\n"
        "`each(all) { nap }` against the hand-written ways to await N futures, on the runtime "
        f"`#[tokio::main]` gives (multi-threaded, {command('nproc')} workers); every variant returns the results "
        "in input order. The plan and `FuturesUnordered`/`join_all` run every branch in the "
        "awaiting task; the `JoinSet` spawns one task per branch. asyncio is `asyncio.gather`; "
        "LangGraph is one `Send` per branch. Wall time per run, median.\n\n"
        + table(
            ["N", "`each(all)`"] + [label for _, label in HAND_FAN_OUTS] + ["ratio to `FuturesUnordered`", "asyncio", "LangGraph"],
            rows,
        )
        + "\n\n" + NOT_RUN_BY_PEERS
        + f"\n\nOverhead per branch: (wall − one 10 ms sleep alone, {human_ns(floor)}) / N, "
        "from 1,000 branches up (below that, a run takes about 11 ms either way and the "
        "difference is the timer's jitter).\n\n"
        + table(["N", "`each(all)`"] + [label for _, label in HAND_FAN_OUTS], overhead_rows)
        + f"\n\n`par(all)` of 10 branches: {human_ns(par)}; `tokio::join!` of the same 10: "
        f"{human_ns(join)} ({ratio(par, join)})."
    )
    return text, targets


def memory_section(asyncio: dict, langgraph: dict) -> tuple[str, list[list[str]]]:
    path = DATA / "memory.jsonl"
    runs = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    by = {(r["variant"], r["n"]): r for r in runs}
    per_branch = lambda r: None if r is None else (r["peak_rss_kib"] - r["base_rss_kib"]) * 1024 / r["n"]  # noqa: E731
    rows, targets = [], []
    for n in sorted({n for _, n in by}):
        plan = by.get(("plan_each", n))
        hands = [by.get((v, n)) for v, _ in HAND_FAN_OUTS]
        cells = []
        for r in [plan] + hands:
            cells.append("—" if r is None else f"{r['peak_rss_kib'] / 1024:.1f} MiB ({per_branch(r):.0f} B)")
        py, lg = peer_row(asyncio, "fan_out", n), peer_row(langgraph, "fan_out", n)
        rows.append(
            [f"{n:,}"] + cells + [ratio(per_branch(plan), per_branch(hands[0]))]
            + [f"{(p['peak_rss_kib'] - p['base_rss_kib']) * 1024 / n:.0f} B" if p else "—" for p in (py, lg)]
        )
        if n == 10_000 and plan and hands[0]:
            value = per_branch(plan) / per_branch(hands[0])
            targets.append(["10,000 × 10 ms fan-out within 1.3× of `FuturesUnordered`, peak memory per branch", f"{value:.2f}×", met(value, 1.3)])
    text = (
        "## Memory of a fan-out\n\n"
        "Peak resident set size of a process that runs one fan-out (`plan-runtime/benches/memory.rs`, one "
        "process per cell): the kernel's high-water mark `VmHWM` from `/proc/self/status`, the "
        "figure `/usr/bin/time -v` reports. In parentheses, per branch: (peak − resident size "
        "just before the fan-out) / N. The ratio is per branch. The Python columns are per "
        "branch, measured the same way.\n\n"
        + table(
            ["N", "`each(all)`"] + [label for _, label in HAND_FAN_OUTS] + ["ratio to `FuturesUnordered`", "asyncio", "LangGraph"],
            rows,
        )
    )
    return text, targets


def first_section(asyncio: dict, langgraph: dict) -> str:
    py, lg = asyncio.get("first"), langgraph.get("first")

    def cell(data: dict | None) -> str:
        if not data:
            return "not run"
        return "not expressible (below)" if "unsupported" in data else human(data["wall_s"])

    rows = []
    for label, winner in (("1ms", "after 1 ms"), ("ready", "ready at once")):
        plan, hand = ns("first_of_100", "plan_each_first", label), ns("first_of_100", "futures_unordered", label)
        peers = [cell(py), cell(lg)] if label == "1ms" else ["", ""]
        rows.append([winner, human_ns(plan), human_ns(hand), ratio(plan, hand)] + peers)
    why = [f"\n\n{name}: {data['unsupported']}" for name, data in (("asyncio", py), ("LangGraph", lg)) if data and "unsupported" in data]
    return (
        "## First of 100: 1 fast branch, 99 slow (10 s)\n\n"
        "Time until the winner is returned, with all 99 losers dropped (and their destructors "
        "run) before the call returns; each variant checks that before it is timed. The fast "
        "branch is the last one started. A 1 ms winner mostly measures tokio's 1 ms timer; a "
        "winner that is ready at once leaves only the cost of starting 100 branches and "
        "dropping 99.\n\n"
        + table(
            ["winner", "`each(first)`", "`FuturesUnordered`, first result", "ratio", "asyncio (`wait` + cancel + await)", "LangGraph"],
            rows,
        )
        + "".join(why)
    )


def deadline_section(asyncio: dict, langgraph: dict) -> str:
    plan, hand = ns("deadline_50ms", "plan_timeout"), ns("deadline_50ms", "tokio_timeout")

    def cell(t: float | None) -> str:
        return "—" if t is None else f"{human(t)} (+{(t - 0.05) * 1e3:.2f} ms)"

    def peer_cell(data: dict) -> str:
        d = data.get("deadline")
        if not d:
            return "not run"
        if "unsupported" in d:
            return f"not expressible: {d['unsupported']}"
        return cell(d["wall_s"])

    return (
        "## Deadline: 50 ms on a step that takes 1 s\n\n"
        "Time until the timeout error is returned, and how late that is.\n\n"
        + table(
            ["`#[timeout(50ms)]`", "`tokio::time::timeout`", "asyncio (`asyncio.timeout`)", "LangGraph (node `timeout`)"],
            [[cell(seconds(plan)), cell(seconds(hand)), peer_cell(asyncio), peer_cell(langgraph)]],
        )
    )


def constructs_section() -> str:
    focus, direct = ns("focus", "plan_focus"), ns("focus", "hand")
    retry, plain, loop = (ns("retry_success", v) for v in ("plan_retry", "plan_no_retry", "hand_retry_loop"))
    control = {v: ns("control", v) for v in ("plan_loop_100", "hand_loop_100", "plan_choose", "hand_choose", "plan_n_best", "hand_n_best")}
    quorum = ns("quorum", "plan_quorum"), ns("quorum", "futures_unordered")
    hedge = {v: ns("hedge", v) for v in ("plan_answered_at_once", "select_answered_at_once", "plan_hedged", "select_hedged")}
    return (
        "## Single constructs\n\n"
        + table(
            ["shape", "`plan!`", "hand-written", "ratio"],
            [
                ["`focus(Agent::turns) { inc }` vs `agent.turns = inc(agent.turns).await`", human_ns(focus), human_ns(direct), ratio(focus, direct)],
                ["`#[retry(3, backoff = 100ms)] try_inc`, succeeding, vs a retry loop", human_ns(retry), human_ns(loop), ratio(retry, loop)],
                ["the same plan without `#[retry]`", human_ns(plain), "", ""],
                *(
                    [label, human_ns(control[f"plan_{v}"]), human_ns(control[f"hand_{v}"]), ratio(control[f"plan_{v}"], control[f"hand_{v}"])]
                    for label, v in (
                        ("`loop(while = below_100, max = 200) { inc }`, 100 passes, vs a `while`", "loop_100"),
                        ("`choose { if is_even => inc, else => dec }` vs an `if`", "choose"),
                        ("`par(n_best(2, by = score)) { inc, dec, double }` vs `join!` and a sort", "n_best"),
                    )
                ),
                ["`par(quorum(3)) { inc, dec, inc, double, inc }` vs a `FuturesUnordered` and a count of votes", human_ns(quorum[0]), human_ns(quorum[1]), ratio(*quorum)],
                *(
                    [label, human_ns(hedge[f"plan_{v}"]), human_ns(hedge[f"select_{v}"]), ratio(hedge[f"plan_{v}"], hedge[f"select_{v}"])]
                    for label, v in (
                        ("`#[hedge(after = 1ms)] try_inc`, answering at once, vs `select!` with a 1 ms timer", "answered_at_once"),
                        ("the same, the first attempt stuck and the hedge answering at once, vs a second `select!` of both attempts", "hedged"),
                    )
                ),
            ],
        )
        + "\n\nEach row is a whole run of a one-node plan, so it includes the plan's root: the "
        f"retry itself costs {human(retry and plain and (retry - plain) * 1e-9)} on the success path."
        + "\n\nA plan run through a `BoxPlan` (`plan.boxed()`) against the same plan run directly: "
        "erasing its type costs one allocation (the boxed future) and one dynamic call per run.\n\n"
        + table(["plan", "direct", "`BoxPlan`", "difference"], boxed_rows())
    )


def boxed_rows() -> list[list[str]]:
    rows = []
    for steps in (1, 10):
        direct, boxed = ns("boxed", "direct", steps), ns("boxed", "boxed", steps)
        difference = human_ns(boxed - direct) if boxed is not None and direct is not None else "—"
        rows.append([f"{steps} × `inc`", human_ns(direct), human_ns(boxed), difference])
    return rows


BINDINGS_GRAPHS = (
    (10, "10 nodes: fan-out from the input, fan-in, a cross-branch edge"),
    (50, "50 nodes: six layers of 8, each node reading two of the layer above"),
)
BINDINGS_VARIANTS = (
    ("chain", "`inc >> inc >> ..`, a chain"),
    ("line", "the same 200 `inc`s as bindings, each reading the one above"),
    ("dag", "200 bindings reading one or two above (half `add2`)"),
)


def bindings_section() -> str:
    rows = []
    for nodes, label in BINDINGS_GRAPHS:
        plan, hand = ns("bindings", "plan", nodes), ns("bindings", "hand_join_shared", nodes)
        floor = ns("bindings", "hand_sequential", nodes)
        rows.append([label, human_ns(plan), human_ns(hand), ratio(plan, hand), human_ns(floor)])
    text = (
        "## Bindings against join/Shared\n\n"
        "The same graph of trivial async steps (`u64` arithmetic behind `black_box`, never "
        "pending) as a `plan!` of `let` bindings and written by hand with "
        "`futures::future::join`, with a `Shared` future for every value read by several "
        "nodes: both start a node as soon as its inputs are ready (`plan-runtime/benches/bindings.rs`). "
        "Time per run, median, on one thread. The floor is the same steps as plain "
        "sequential `.await`s: no equivalent once a step waits, but what the steps alone cost "
        "here.\n\n"
        + table(["graph", "bindings", "`join` + `Shared`", "ratio", "floor: sequential `.await`s"], rows)
    )
    data = load("compile_bindings.json")
    if not data:
        return text + "\n\nBuild time of 200 bindings: not run."
    by = {r["variant"]: r for r in data["rows"]}
    chain = by.get("chain")
    build_rows = [
        [
            label,
            f"{by[v]['build_s']:.2f} s",
            ratio(by[v]["build_s"], chain["build_s"]) if chain else "—",
            f"{by[v]['expansion_ms']:.1f} ms",
        ]
        for v, label in BINDINGS_VARIANTS
        if v in by
    ]
    repeats = data["repeats"]
    return (
        text
        + "\n\nBuild time of a 200-binding plan (`bench/compile/bindings.py`): one binary of the "
        f"scratch crate of the compile-time section per plan, `cargo build` of it ({data['profile']} "
        f"profile, incremental off, {'median of ' + str(repeats) if repeats > 1 else 'one build'}; "
        "dependencies prebuilt), against a 200-step chain of the same step.\n\n"
        + table(["plan", "build", "ratio to the chain", "macro expansion"], build_rows)
    )


# The layers' hot paths against what they wrap: (what, criterion group, ours, theirs, theirs
# as the table names it, how many operations one iteration makes).
LAYER_ROWS = (
    ("tools: a rate limit admits", "rate_limit_admitted", "plan_tools", "governor_check", "`governor` check", 1),
    ("tools: HTTP GET to 127.0.0.1", "http_get", "plan_tools", "reqwest", "bare `reqwest`", 1),
    ("state: journal a step's output (per step of a 1,000-step durable chain on SQLite)", "journal_chain_1000", "durable_sqlite", "raw_rusqlite_inserts", "raw `rusqlite` upsert, same bytes", 1000),
    ("state: the same, against the upserts on a thread of their own, each awaited (what sending each write to the store's thread costs)", "journal_chain_1000", "durable_sqlite", "raw_rusqlite_inserts_on_a_thread", "raw upsert on a thread, awaited", 1000),
    ("state: a 1,000-step chain, durable on SQLite against no journal", "journal_chain_1000", "durable_sqlite", "no_journal", "the same chain, no journal", 1),
    ("state: journal an item's output (per item of a durable `each(all)` over 1,000 items on SQLite; branches share commits)", "journal_each_1000", "durable_sqlite", "raw_rusqlite_inserts", "raw `rusqlite` upsert, same bytes", 1000),
    ("state: save a 1 MiB state, SQLite", "save 1 MiB", "sqlite", "rusqlite insert (baseline)", "raw `rusqlite` insert", 1),
    ("state: save a 1 MiB state, JSON files", "save 1 MiB", "json files", "rusqlite insert (baseline)", "raw `rusqlite` insert", 1),
    ("state: load a 1 MiB state, SQLite", "load 1 MiB", "sqlite", "rusqlite select (baseline)", "raw `rusqlite` select", 1),
    ("state: load a 1 MiB state, JSON files", "load 1 MiB", "json files", "rusqlite select (baseline)", "raw `rusqlite` select", 1),
)


AGENT_ROWS = (
    ("agents: topic 1 → 1, 1,000 messages", "topic", "bus/1", "mpsc/1", "`tokio::sync::mpsc`", 1),
    ("agents: topic 1 → 10, 1,000 messages", "topic", "bus/10", "mpsc/10", "10 `mpsc` channels", 1),
    ("agents: mailbox send, receive and ack, 1,000 messages", "mailbox", "bus send, recv, ack", "mpsc send, recv", "`mpsc` send and receive", 1),
    ("agents: NATS mailbox, 100 messages each sent (awaiting its PubAck), received, acked", "nats mailbox", "bus send, recv, ack", "async-nats publish, pull 1, ack", "raw `async-nats`, the same steps (one pull per message)", 1),
    ("agents: the same, against one pull of all 100", "nats mailbox", "bus send, recv, ack", "async-nats publish, pull all, ack", "raw `async-nats`, one batch (what the bus does not do, so no consumer's buffer holds another's messages)", 1),
)

SLEEPER_LABELS = {
    "agents": "agents over the in-memory store (records in memory)",
    "agents_sqlite": "agents over SQLite (records on disk; SQLite's page cache counted)",
    "tasks": "baseline: a tokio task asleep in `tokio::time::sleep`, holding one queued JSON value",
}


def sleepers_section() -> str:
    path = DATA / "sleepers.jsonl"
    if not path.exists():
        return "### Memory per sleeping agent\n\nnot run"
    runs = {r["variant"]: r for r in map(json.loads, path.read_text().splitlines())}
    base = runs.get("tasks", {}).get("bytes_per_agent")
    rows = []
    for variant, label in SLEEPER_LABELS.items():
        r = runs.get(variant)
        if r:
            rows.append([label, f"{r['n']:,}", f"{r['bytes_per_agent']:,.0f} B", ratio(r["bytes_per_agent"], base)])
    return (
        "### Memory per sleeping agent\n\n"
        "`cargo bench -p plan-agents --bench sleepers -- VARIANT 10000`, one process each: the "
        "growth of its resident set size (`VmRSS`) once 10,000 agents sleep, each with a timer an "
        "hour away and one task queued, over the number of agents.\n\n"
        + table(["sleepers", "agents", "per agent", "ratio"], rows)
    )


IDLE_LABELS = {
    "loaded": "idle agents in memory",
    "unloaded": "idle agents unloaded (`Builder::unload_idle_after`; records in SQLite)",
}


def idle_section() -> str:
    path = DATA / "idle.jsonl"
    if not path.exists():
        return "### Memory per idle agent\n\nnot run"
    runs = {r["variant"]: r for r in map(json.loads, path.read_text().splitlines())}
    base = runs.get("loaded", {}).get("heap_bytes_per_agent")
    rows = []
    for variant, label in IDLE_LABELS.items():
        r = runs.get(variant)
        if r:
            rows.append([label, f"{r['n']:,}", f"{r['heap_bytes_per_agent']:,.0f} B", ratio(r["heap_bytes_per_agent"], base)])
    return (
        "### Memory per idle agent\n\n"
        "`cargo bench -p plan-agents --bench idle -- VARIANT 10000`, one process each: the "
        "heap's live bytes (dhat's allocator) per agent once 10,000 agents over an SQLite file, "
        "each with a 1 KiB state and one turn run, are idle; SQLite's page cache counted.\n\n"
        + table(["idle agents", "agents", "per agent", "ratio"], rows)
    )


def layers_section() -> str:
    rows = []
    for what, group, ours, theirs, label, per in LAYER_ROWS + AGENT_ROWS:
        a, b = ns(group, ours), ns(group, theirs)
        each = lambda t: None if t is None else t / per
        rows.append([what, human_ns(each(a)), f"{label}: {human_ns(each(b))}", ratio(a, b)])
    return (
        "## Layers: tools, state and agents against what they wrap\n\n"
        "`cargo bench -p plan-tools --bench tools`, `cargo bench -p plan-state --bench "
        "journal` and `--bench state`, and `cargo bench -p plan-agents --features nats --bench "
        "bus`: each hot path and the library call it wraps, in one run. Medians; a per-step figure is the iteration's time over its steps. A 1 MiB "
        "state's save and load include turning it into JSON and back (serde alone takes "
        "about half of an SQLite save).\n\n"
        + table(["operation", "ours", "baseline", "ratio"], rows)
        + "\n\n"
        + sleepers_section()
        + "\n\n"
        + idle_section()
    )


def remote_section() -> str:
    data = load("remote.json")
    if not data:
        return "## Remote steps on NATS JetStream\n\nnot run"
    trip = data["round_trip"]
    rows = [["one remote step (64 bytes there and back)", human(trip["remote_s"]), f"raw request/reply: {human(trip['raw_s'])}", ratio(trip["remote_s"], trip["raw_s"])]]
    for r in data["fan_out"]:
        floor = 10.0 / r["workers"]
        rows.append([f"1,000 steps of 10 ms, {r['workers']} worker(s), one step at a time each", human(r["seconds"]), f"floor: {human(floor)}", ratio(r["seconds"], floor)])
    return (
        "## Remote steps on NATS JetStream\n\n"
        "`cargo bench -p plan-remote --bench remote`, against a `nats-server -js` of its own on "
        "127.0.0.1, workers in the same process. A remote step is a job published to a work-queue "
        "stream (deduplicated by its key), pulled by a worker, and a result kept in a key-value "
        "bucket that the coordinator watches; a raw request/reply is one core NATS round trip.\n\n"
        + table(["operation", "ours", "baseline", "ratio"], rows)
        + "\n\nFailover: from `kill -9` of the worker running a step (the `worker` example, whose "
        f"redelivery deadline is 2 s) to the step's result from another worker: {human(data['worker_failover_s'])}; "
        "from the loss (`kill -9`) of one node of a 3-node cluster (streams and buckets with 3 "
        f"replicas) to the next remote step's result: {human(data['node_failover_s'])}."
    )


def compile_section() -> tuple[str, list[list[str]]]:
    data = load("compile.json")
    if not data:
        return "## Compile time\n\nnot run", []
    rows, targets = [], []
    for r in data["rows"]:
        rows.append(
            [f"{r['nodes']:,}", f"{r['plan_build_s']:.2f} s", f"{r['hand_build_s']:.2f} s", ratio(r["plan_build_s"], r["hand_build_s"]), f"{r['expansion_ms']:.1f} ms"]
        )
        if r["nodes"] == 500:
            value = r["plan_build_s"] / r["hand_build_s"]
            targets.append(["a 500-node plan builds within 2× of hand-written", f"{value:.2f}×", met(value, 2.0)])
    text = (
        "## Compile time\n\n"
        "`bench/compile/run.py` generates plans of 10, 100 and 500 nodes (a chain of units "
        "`inc >> #[timeout(1s)] inc >> par(all) { inc, inc, inc } >> #[retry(3)] sum3 >> "
        "choose { if is_even => inc, else => dec }`) and the same plans written by hand against "
        "`plan_runtime::nodes`, each as one binary of a scratch crate, and times `cargo build` of "
        f"each ({data['profile']} profile, incremental off, median of 3; dependencies prebuilt). "
        "Expansion is the macro's own parse and expand, measured in its unit tests.\n\n"
        + table(["nodes", "`plan!`", "by hand", "ratio", "macro expansion"], rows)
    )
    return text, targets


def render() -> str:
    """RESULTS.md, from everything measured."""
    asyncio, langgraph = peer("asyncio"), peer("langgraph")
    chain, t1 = chain_section(asyncio, langgraph)
    fan_out, t2 = fan_out_section(asyncio, langgraph)
    memory, t3 = memory_section(asyncio, langgraph)
    compile_time, t4 = compile_section()
    quick = any(p.get("quick") for p in (asyncio, langgraph))
    parts = [
        "# Benchmark results",
        "Written by `bench/run` "
        f"({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC){' with --quick: short samples, not for quoting' if quick else ''}; "
        "do not edit by hand. Criterion figures are medians; the raw estimates are under "
        "`target/criterion/`.",
        "## Machine\n\n" + machine(),
        "## Targets\n\n" + table(["target", "measured", ""], t1 + t2 + t3 + t4),
        chain,
        fan_out,
        memory,
        first_section(asyncio, langgraph),
        deadline_section(asyncio, langgraph),
        constructs_section(),
        bindings_section(),
        layers_section(),
        remote_section(),
        compile_time,
    ]
    return "\n\n".join(parts) + "\n"


def sections(markdown: str) -> list[tuple[str, str]]:
    """`markdown` cut at its `##` and `###` headings: (title, text up to the next heading)."""
    cut = re.split(r"(?m)^(?=###? )", markdown)
    return [(part.splitlines()[0].lstrip("#").strip() if part.startswith("##") else "", part) for part in cut]


def keep_unmeasured_rows(new: str, old: str) -> str:
    """`new`, keeping what `old` measured that was not measured again: a table row with no
    figure of its own is `old`'s row of the same first cell, a missing figure ("—") in a
    row with figures is `old`'s, and a row of `old` that `new` lacks stays after the row it
    followed."""
    old_rows = {cells[0]: (line, cells) for line in old.splitlines() if (cells := row_cells(line))}
    lines = []
    for line in new.splitlines():
        cells = row_cells(line)
        before = old_rows.get(cells[0]) if cells else None
        if before and len(before[1]) == len(cells):
            if all(missing(c) or c in ("met", "**missed**") for c in cells[1:]):
                line = before[0]
            elif any(missing(c) for c in cells[1:]):
                merged = (b if missing(c) else c for c, b in zip(cells, before[1]))
                line = "| " + " | ".join(merged) + " |"
        lines.append(line)
    kept = {cells[0] for cells in map(row_cells, lines) if cells}
    previous = None
    for line in old.splitlines():
        cells = row_cells(line)
        if cells and cells[0] not in kept and previous in lines:
            lines.insert(lines.index(previous) + 1, line)
        if cells:
            previous = line if cells[0] not in kept else next(
                (l for l in lines if row_cells(l)[:1] == cells[:1]), previous
            )
    return "\n".join(lines) + ("\n" if new.endswith("\n") else "")


def missing(cell: str) -> bool:
    """Whether a cell's figure was not measured: "—", or a labelled "—"."""
    return cell == "—" or cell.endswith(": —")


def row_cells(line: str) -> list[str]:
    """The cells of a Markdown table row (none for any other line, or its `|---|` rule)."""
    if not line.startswith("| "):
        return []
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def update(headings: list[str]) -> str:
    """RESULTS.md with only the sections named by `headings` (their titles' beginnings)
    regenerated, for benches rerun on their own; the other sections are kept as they are."""
    old = (ROOT / "bench" / "RESULTS.md").read_text()
    new = dict(sections(render()))
    parts = []
    rerun = []
    for heading, text in sections(old):
        if heading and any(heading.startswith(h) for h in headings):
            text = keep_unmeasured_rows(new.get(heading, text), text)
            rerun.append(heading)
        parts.append(text)
    # The header says which sections are newer than the full run it names.
    at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = f"Rerun on their own ({at}): {', '.join(rerun)}."
    header = re.sub(r"(?m)^Rerun on their own \(.*\n\n", "", parts[0])
    parts[0] = header.rstrip("\n") + "\n\n" + note + "\n\n"
    return "".join(parts)


def main() -> None:
    # `--update HEADING..`: regenerate those sections only (see `update`).
    args = sys.argv[1:]
    markdown = update(args[1:]) if args[:1] == ["--update"] else render()
    out = ROOT / "bench" / "RESULTS.md"
    out.write_text(markdown)
    print(out, file=sys.stderr)
    out = ROOT / "bench" / "results.csv"
    out.write_text(measurements_csv(markdown))
    print(out, file=sys.stderr)


# A figure in a table cell: a number (with thousands separators), then its unit.
FIGURE = re.compile(r"(-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?)\s*(ns|µs|us|ms|s|min|GiB|MiB|KiB|B|×|%)?(?![\w.])")
# Units as the CSV writes them: durations in seconds, sizes in bytes.
SCALES = {
    "ns": (1e-9, "s"), "µs": (1e-6, "s"), "us": (1e-6, "s"), "ms": (1e-3, "s"), "s": (1, "s"),
    "min": (60, "s"), "B": (1, "B"), "KiB": (2**10, "B"), "MiB": (2**20, "B"), "GiB": (2**30, "B"),
    "×": (1, "ratio"), "%": (1, "%"),
}


def measurements(markdown: str) -> list[list[str]]:
    """Every figure in the tables of `markdown`, as `[section, measurement, value, unit]`.

    A measurement is named by its row's first cell and its column's header ("10,000 /
    `each(all)`"); a cell's label before `: ` joins the name, and a second figure in a cell
    (a per-branch size in parentheses) is named with "(in parentheses)". Cells without a
    leading figure ("met", "—", a CPU's name) have none. Values keep the table's precision.
    """
    rows, section, header = [], "", None
    for line in markdown.splitlines():
        if line.startswith("#"):
            section, header = line.lstrip("#").strip(), None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = [plain(cell) for cell in line.strip().strip("|").split(" | ")]
        if header is None:
            header = cells
            continue
        if all(set(cell) <= set("-:") for cell in cells):
            continue
        for column, cell in zip(header[1:], cells[1:]):
            name = " / ".join(part for part in (cells[0], column) if part)
            label, _, rest = cell.rpartition(": ")
            if label and FIGURE.match(rest):
                name, cell = f"{name} / {label}", rest
            figures = list(FIGURE.finditer(cell))
            if not figures or figures[0].start() != 0:
                continue
            for i, figure in enumerate(figures[:2]):
                if i == 1 and not cell[: figure.start()].rstrip().endswith("("):
                    break
                scale, unit = SCALES.get(figure.group(2) or "", (1, ""))
                value = float(figure.group(1).replace(",", "")) * scale
                rows.append([section, name + (" (in parentheses)" if i else ""), f"{value:.6g}", unit])
    return rows


def plain(cell: str) -> str:
    """A Markdown cell's text, without code or bold marks."""
    return cell.strip().replace("`", "").replace("**", "")


def measurements_csv(markdown: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "measurement", "value", "unit"])
    writer.writerows(measurements(markdown))
    return out.getvalue()


if __name__ == "__main__":
    main()
