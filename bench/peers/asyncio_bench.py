"""The plain-asyncio peer: each shape written by hand, the way a careful programmer would.

This is the floor a Python orchestration layer is compared against, as hand-written tokio
code is on the Rust side. Run through ``run.sh``, or directly:
``python bench/peers/asyncio_bench.py [--quick] --out target/bench/peers/asyncio.json``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import common

NAME = "asyncio"
FIRST_UNSUPPORTED = None


def version() -> str:
    """Only the interpreter: asyncio ships with it."""
    return common.python_version()


async def inc(x: int) -> int:
    """The chain's trivial step."""
    return x + 1


def make_chain(n: int) -> Callable[[], Awaitable[int]]:
    """N awaits of ``inc`` in a row, like the Rust side's copies of ``inc``.

    A list of step functions walked by a loop, rather than N literal awaits: the loop costs
    one iteration per step, far below the coroutine call it drives, and keeps N a parameter.
    """
    steps = [inc] * n

    async def run() -> int:
        x = 0
        for step in steps:
            x = await step(x)
        return x

    return run


async def branch(i: int) -> int:
    """One fan-out branch: a 10 ms wait standing in for I/O."""
    await asyncio.sleep(common.FAN_OUT_SLEEP_S)
    return i


def make_fan_out(n: int) -> Callable[[], Awaitable[list[int]]]:
    """``asyncio.gather`` over plain coroutines; gather wraps each one in a Task itself."""

    async def run() -> list[int]:
        return await asyncio.gather(*(branch(i) for i in range(n)))

    return run


def fan_out_runs(n: int, first_wall_s: float) -> int:
    """Five runs, three at 10,000 branches; runs are short at every size here."""
    return 3 if n >= 10000 else 5


async def first_success(aws: Iterable[Awaitable[Any]]) -> Any:
    """The first branch to *succeed* wins; the rest are cancelled and awaited.

    A branch that fails first does not decide: we keep waiting for a success, and raise only
    when every branch failed. The ``finally`` cancels and awaits whatever is left on every
    exit, including our own cancellation, so no branch outlives the call.
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        pending = set(tasks)
        errors = []
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is None:
                    return task.result()
                errors.append(task.exception())
        raise ExceptionGroup("every branch failed", errors)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def first() -> tuple[int, int]:
    """One race: returns the winner's value and how many losers ran their ``finally``."""
    cancelled = 0

    async def contender(i: int) -> int:
        nonlocal cancelled
        if i == common.FIRST_FAST_INDEX:
            await asyncio.sleep(common.FIRST_FAST_SLEEP_S)
            return i
        try:
            await asyncio.sleep(common.FIRST_SLOW_SLEEP_S)
            return i
        finally:
            cancelled += 1

    value = await first_success(contender(i) for i in range(common.FIRST_N))
    return value, cancelled


async def deadline() -> bool:
    """The 1 s step under ``asyncio.timeout(0.05)``; True if its ``finally`` ran in time.

    ``asyncio.timeout`` rather than ``wait_for``: it runs the step inline in the caller's
    task, as ``tokio::time::timeout`` polls its future inline, with no extra Task in between.
    The timeout cancels the step inside this task, so its ``finally`` runs before the
    ``TimeoutError`` leaves the ``async with``.
    """
    cleaned = False

    async def step() -> None:
        nonlocal cleaned
        try:
            await asyncio.sleep(common.DEADLINE_STEP_SLEEP_S)
        finally:
            cleaned = True

    try:
        async with asyncio.timeout(common.DEADLINE_S):
            await step()
    except TimeoutError:
        return cleaned
    raise AssertionError("the step finished before its deadline")


if __name__ == "__main__":
    common.main(sys.modules[__name__])
