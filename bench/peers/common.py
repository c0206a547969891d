"""Shape definitions, timing and reporting shared by the Python peer benchmarks.

Each peer (``asyncio_bench.py``, ``langgraph_bench.py``) only says how to build and run a
shape; this module decides how it is timed and writes the JSON the results table reads, so
both peers are measured the same way. The shapes mirror the Rust benchmarks exactly:

* chain:    N trivial ``x + 1`` steps in sequence.
* fan_out:  N concurrent branches, each sleeps 10 ms and returns its index.
* first:    100 branches, one sleeps 1 ms, 99 sleep 10 s; the fast one's value is returned
            once the losers are cancelled and their cancellation has been awaited.
* deadline: a 1 s step under a 50 ms deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

CHAIN_SIZES = (100, 1000)
FAN_OUT_SIZES = (10, 100, 1000, 10000)
FAN_OUT_SLEEP_S = 0.010

FIRST_N = 100
# The fast branch is the last one created, so a peer cannot win by merely starting it first.
FIRST_FAST_INDEX = FIRST_N - 1
FIRST_FAST_SLEEP_S = 0.001
FIRST_SLOW_SLEEP_S = 10.0

DEADLINE_S = 0.050
DEADLINE_STEP_SLEEP_S = 1.0


@dataclass(frozen=True)
class Settings:
    """How hard to measure: the full run, or ``--quick`` for a smoke test."""

    quick: bool
    chain_sizes: tuple[int, ...]
    fan_out_sizes: tuple[int, ...]
    # A chain sample repeats whole runs until it lasts this long, so the timer's resolution
    # and the loop's per-run overhead vanish next to the steps themselves.
    chain_min_sample_s: float
    chain_samples: int
    # Only first and deadline: each run is a few ms to 50 ms, so 9 runs cost little and make
    # the median steady against the odd scheduler hiccup on a 2-core machine.
    event_runs: int


FULL = Settings(False, CHAIN_SIZES, FAN_OUT_SIZES, 0.5, 5, 9)
QUICK = Settings(True, CHAIN_SIZES, FAN_OUT_SIZES[:3], 0.05, 3, 5)


def python_version() -> str:
    """The interpreter, as it appears in the report: e.g. ``CPython 3.11.7``."""
    return f"{platform.python_implementation()} {platform.python_version()}"


def log(message: str) -> None:
    """The human-readable progress goes to stderr; stdout is kept for machine output."""
    print(message, file=sys.stderr, flush=True)


def _proc_status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (``VmRSS`` now, ``VmHWM`` the peak so far)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _check_fan_out(n: int, results: list[int]) -> None:
    """Every branch reported exactly once; the order is not part of the contract."""
    assert sorted(results) == list(range(n)), f"fan_out({n}): wrong results"


async def _time_runs(run: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, Any]:
    """Seconds for ``runs`` back-to-back awaits of ``run()``, and the last result."""
    result = None
    start = time.perf_counter()
    for _ in range(runs):
        result = await run()
    return time.perf_counter() - start, result


async def _median_run_s(
    run: Callable[[], Awaitable[int]], expected: int, settings: Settings
) -> float:
    """Median seconds per ``run()``: doubling calibration, then ``chain_samples`` samples.

    The calibration samples double as warm-up and are not kept.
    """
    runs = 1
    while True:
        elapsed, result = await _time_runs(run, runs)
        assert result == expected, f"chain: got {result}, expected {expected}"
        if elapsed >= settings.chain_min_sample_s:
            break
        runs *= 2
    per_run = []
    for _ in range(settings.chain_samples):
        elapsed, result = await _time_runs(run, runs)
        assert result == expected, f"chain: got {result}, expected {expected}"
        per_run.append(elapsed / runs)
    return statistics.median(per_run)


async def _measure_chain(peer: ModuleType, settings: Settings) -> list[dict[str, Any]]:
    rows = []
    for n in settings.chain_sizes:
        run = peer.make_chain(n)  # built (compiled) outside the timing
        run_s = await _median_run_s(run, n, settings)
        per_step_ns = run_s / n * 1e9
        log(f"  chain n={n}: {per_step_ns / 1000:.3f} us/step, {run_s * 1000:.3f} ms/run")
        rows.append({"n": n, "per_step_ns": per_step_ns, "run_s": run_s})
    return rows


async def _fan_out_wall_s(run: Callable[[], Awaitable[list[int]]], n: int) -> float:
    """Seconds for one fan-out of ``n``; its results are checked after the clock stops."""
    start = time.perf_counter()
    results = await run()
    wall_s = time.perf_counter() - start
    _check_fan_out(n, results)
    return wall_s


async def _measure_fan_out(peer: ModuleType, settings: Settings) -> list[dict[str, Any]]:
    """Wall time per fan-out, median of the peer's number of runs (2 when quick).

    Sizes go up, so the small ones warm the code paths up for the big ones.
    """
    rows = []
    for n in settings.fan_out_sizes:
        run = peer.make_fan_out(n)
        walls = [await _fan_out_wall_s(run, n)]
        runs = 2 if settings.quick else peer.fan_out_runs(n, walls[0])
        walls += [await _fan_out_wall_s(run, n) for _ in range(runs - 1)]
        memory = _memory_probe(peer, n)
        wall_s = statistics.median(walls)
        log(
            f"  fan_out n={n}: {wall_s * 1000:.1f} ms (median of {runs}), "
            f"rss {memory['base_rss_kib']} -> {memory['peak_rss_kib']} KiB"
        )
        rows.append({"n": n, "wall_s": wall_s, "runs": runs, **memory})
    return rows


async def _measure_first(peer: ModuleType, settings: Settings) -> dict[str, Any]:
    if peer.FIRST_UNSUPPORTED:
        log("  first: unsupported")
        return {"unsupported": peer.FIRST_UNSUPPORTED}
    walls = []
    for _ in range(settings.event_runs):
        start = time.perf_counter()
        value, losers_cancelled = await peer.first()
        walls.append(time.perf_counter() - start)
        assert value == FIRST_FAST_INDEX, f"first: got {value}"
        assert losers_cancelled == FIRST_N - 1, f"first: {losers_cancelled} losers cancelled"
    wall_s = statistics.median(walls)
    log(f"  first n={FIRST_N}: {wall_s * 1000:.3f} ms, {FIRST_N - 1} losers cancelled")
    return {"n": FIRST_N, "wall_s": wall_s, "losers_cancelled": FIRST_N - 1}


async def _measure_deadline(peer: ModuleType, settings: Settings) -> dict[str, Any]:
    walls = []
    cleanup_every_time = True
    for _ in range(settings.event_runs):
        start = time.perf_counter()
        cleanup_done = await peer.deadline()
        walls.append(time.perf_counter() - start)
        cleanup_every_time = cleanup_every_time and cleanup_done
        # Let a step that outlived the call finish its cleanup before the next run starts.
        await asyncio.sleep(0.01)
    wall_s = statistics.median(walls)
    overshoot_ms = (wall_s - DEADLINE_S) * 1000
    log(
        f"  deadline {DEADLINE_S * 1000:.0f} ms: {wall_s * 1000:.3f} ms "
        f"(+{overshoot_ms:.3f} ms), cleanup done before return: {cleanup_every_time}"
    )
    return {
        "deadline_s": DEADLINE_S,
        "wall_s": wall_s,
        "overshoot_ms": overshoot_ms,
        "cleanup_done_before_return": cleanup_every_time,
    }


def _memory_probe(peer: ModuleType, n: int) -> dict[str, int]:
    """RSS before and peak after one fan-out of ``n``, in a fresh interpreter.

    A fresh process, because the benchmark process has already run bigger shapes and its
    allocator keeps memory it got back; only a fresh one shows what this fan-out costs.
    """
    completed = subprocess.run(
        [sys.executable, peer.__file__, "--memory-probe", str(n)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


async def _probe_child(peer: ModuleType, n: int) -> None:
    """The child side of :func:`_memory_probe`: one JSON line on stdout."""
    run = peer.make_fan_out(n)  # imports done, graph compiled, event loop running
    base = _proc_status_kib("VmRSS")
    _check_fan_out(n, await run())
    peak = _proc_status_kib("VmHWM")  # the high-water mark: same as ru_maxrss
    print(json.dumps({"base_rss_kib": base, "peak_rss_kib": peak}))


async def _measure_all(peer: ModuleType, settings: Settings) -> dict[str, Any]:
    log(f"{peer.NAME} ({peer.version()}){' --quick' if settings.quick else ''}")
    return {
        "peer": peer.NAME,
        "version": peer.version(),
        "quick": settings.quick,
        "chain": await _measure_chain(peer, settings),
        "fan_out": await _measure_fan_out(peer, settings),
        "first": await _measure_first(peer, settings),
        "deadline": await _measure_deadline(peer, settings),
    }


def main(peer: ModuleType) -> None:
    """Command line of both peer scripts.

    A peer module provides ``NAME``, ``version()``, ``make_chain(n)``, ``make_fan_out(n)``,
    ``fan_out_runs(n, first_wall_s)``, ``FIRST_UNSUPPORTED`` (a reason, or ``None`` and then
    ``first()``) and ``deadline()``. Everything runs inside one event loop, the default one.
    """
    parser = argparse.ArgumentParser(description=f"{peer.NAME} peer benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--out", type=Path, help="where to write the JSON report")
    parser.add_argument("--memory-probe", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.memory_probe is not None:
        asyncio.run(_probe_child(peer, args.memory_probe))
        return
    if args.out is None:
        parser.error("--out is required")
    report = asyncio.run(_measure_all(peer, QUICK if args.quick else FULL))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log(f"  wrote {args.out}")
