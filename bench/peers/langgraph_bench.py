"""The LangGraph peer: each shape as a ``StateGraph`` run with ``ainvoke``.

Graphs are compiled once, outside the timing, and without a checkpointer: the cheapest
configuration LangGraph has, and the one closest to a plan, which persists nothing. Run
through ``run.sh``, or directly (in the venv ``setup.sh`` makes):
``python bench/peers/langgraph_bench.py [--quick] --out target/bench/peers/langgraph.json``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import operator
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.errors import NodeTimeoutError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

import common

NAME = "langgraph"

FIRST_UNSUPPORTED = (
    "LangGraph has no first-completed or first-success join: branches started together "
    "(edges or Send) run in one Pregel superstep that always waits for every branch, "
    "which the maintainers call expected behaviour (langgraph issues #3617, #4673, #6320), "
    "and its runner stops sibling branches early only when one raises "
    "(_should_stop_others in langgraph/pregel/_runner.py of 1.2.22), so returning the "
    "first success once the losers are cancelled cannot be expressed."
)


def version() -> str:
    """The langgraph release and the interpreter it runs on."""
    return f"langgraph {importlib.metadata.version('langgraph')} on {common.python_version()}"


class ChainState(TypedDict):
    """The chain's whole state: one int."""

    x: int


async def inc(state: ChainState) -> dict[str, int]:
    """The chain's trivial step, as a node: a partial state update."""
    return {"x": state["x"] + 1}


def make_chain(n: int) -> Callable[[], Awaitable[int]]:
    """N distinct nodes ``node_0 … node_{N-1}`` on a line, each running ``inc``.

    Every node is its own superstep; ``recursion_limit`` (the cap on supersteps, 25 by
    default) is raised to N + 10 so the run is allowed to finish.
    """
    builder = StateGraph(ChainState)
    for i in range(n):
        builder.add_node(f"node_{i}", inc)
    builder.add_edge(START, "node_0")
    for i in range(n - 1):
        builder.add_edge(f"node_{i}", f"node_{i + 1}")
    builder.add_edge(f"node_{n - 1}", END)
    graph = builder.compile()
    config: RunnableConfig = {"recursion_limit": n + 10}

    async def run() -> int:
        return (await graph.ainvoke({"x": 0}, config=config))["x"]

    return run


class FanOutState(TypedDict):
    """How many branches to start, and their results, concatenated by ``operator.add``."""

    n: int
    results: Annotated[list[int], operator.add]


class BranchInput(TypedDict):
    """What ``Send`` hands one branch: its index, not the graph state."""

    i: int


def fan(state: FanOutState) -> list[Send]:
    """LangGraph's map step: one ``Send`` per branch, all run in the next superstep."""
    return [Send("branch", {"i": i}) for i in range(state["n"])]


async def branch(arg: BranchInput) -> dict[str, list[int]]:
    """One fan-out branch: a 10 ms wait standing in for I/O."""
    await asyncio.sleep(common.FAN_OUT_SLEEP_S)
    return {"results": [arg["i"]]}


@functools.cache
def fan_out_graph() -> CompiledStateGraph:
    """One graph for every N (N travels in the state), compiled on first use."""
    builder = StateGraph(FanOutState)
    builder.add_node("branch", branch)
    builder.add_conditional_edges(START, fan, ["branch"])
    builder.add_edge("branch", END)
    return builder.compile()


def make_fan_out(n: int) -> Callable[[], Awaitable[list[int]]]:
    """A run of the fan-out graph with N branches."""
    graph = fan_out_graph()

    async def run() -> list[int]:
        return (await graph.ainvoke({"n": n, "results": []}))["results"]

    return run


def fan_out_runs(n: int, first_wall_s: float) -> int:
    """Three runs, or two when one takes over 5 s (10,000 branches).

    That keeps the whole script within about three minutes on a 2-core machine.
    """
    return 2 if first_wall_s > 5.0 else 3


class Cleanup:
    """Whether the deadline step's ``finally`` ran; set by that ``finally``."""

    def __init__(self) -> None:
        self.done = False


async def slow_step(state: ChainState, config: RunnableConfig) -> dict[str, int]:
    """The deadline shape's 1 s step; its ``Cleanup`` comes per run through the config."""
    try:
        await asyncio.sleep(common.DEADLINE_STEP_SLEEP_S)
        return {"x": state["x"] + 1}
    finally:
        config["configurable"]["cleanup"].done = True


@functools.cache
def deadline_graph() -> CompiledStateGraph:
    """One node under the per-node timeout of langgraph >= 1.2 (``add_node(timeout=…)``).

    A plain number is a hard wall-clock cap on each attempt (``TimeoutPolicy.run_timeout``).
    No retry policy is set, so the first ``NodeTimeoutError`` ends the run.
    """
    builder = StateGraph(ChainState)
    builder.add_node("step", slow_step, timeout=common.DEADLINE_S)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder.compile()


async def deadline() -> bool:
    """One run until ``NodeTimeoutError``; True if the step's ``finally`` ran by then.

    LangGraph cancels the timed-out node's task but does not await it (``bg.cancel()`` then
    ``raise NodeTimeoutError`` in ``_arun_with_timeout``, langgraph/pregel/_retry.py), so
    the flag is read the moment ``ainvoke`` raises, before this coroutine awaits anything.
    """
    cleanup = Cleanup()
    try:
        await deadline_graph().ainvoke({"x": 0}, config={"configurable": {"cleanup": cleanup}})
    except NodeTimeoutError:
        return cleanup.done
    raise AssertionError("the step finished before its deadline")


if __name__ == "__main__":
    common.main(sys.modules[__name__])
