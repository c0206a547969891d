#!/usr/bin/env bash
# Runs the Python peer benchmarks (plain asyncio and LangGraph) and writes their reports:
#
#   bash bench/peers/run.sh [--quick]
#
# → target/bench/peers/asyncio.json and target/bench/peers/langgraph.json (relative to the
# repo root). --quick is a smoke test: small sizes, few repeats, well under 30 s once the
# venv exists. Progress and a summary go to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

quick=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=(--quick) ;;
        *) echo "usage: bash bench/peers/run.sh [--quick]" >&2; exit 2 ;;
    esac
done

python="$(bash bench/peers/setup.sh)"
out=target/bench/peers
mkdir -p "$out"

# Both peers run on the venv's interpreter, so they share one CPython build.
"$python" bench/peers/asyncio_bench.py "${quick[@]}" --out "$out/asyncio.json"
"$python" bench/peers/langgraph_bench.py "${quick[@]}" --out "$out/langgraph.json"
