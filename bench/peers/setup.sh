#!/usr/bin/env bash
# Creates the virtualenv the Python peer benchmarks run in and installs the pinned packages.
#
#   bash bench/peers/setup.sh        (from anywhere; paths are relative to the repo root)
#
# PEERS_VENV   where the venv goes (default target/bench/venv, relative to the repo root)
# PEERS_PYTHON the interpreter that creates it (default python3)
#
# Idempotent: when the venv already has the pinned langgraph, nothing is installed.
# Progress goes to stderr; the venv's python path is the only line on stdout, so run.sh can
# capture it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

requirements=bench/peers/requirements.txt
venv="${PEERS_VENV:-target/bench/venv}"
python="$venv/bin/python"
pinned="$(sed -n 's/^langgraph==//p' "$requirements")"

if [[ ! -x "$python" ]]; then
    echo "setup: creating $venv" >&2
    mkdir -p "$(dirname "$venv")"
    "${PEERS_PYTHON:-python3}" -m venv "$venv"
fi

installed="$("$python" -c 'import importlib.metadata as m; print(m.version("langgraph"))' \
    2>/dev/null || true)"
if [[ "$installed" == "$pinned" ]]; then
    echo "setup: langgraph $pinned already installed in $venv" >&2
else
    echo "setup: installing $requirements (langgraph $pinned) into $venv" >&2
    "$python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
fi

# An absolute path, so callers may change directory.
echo "$(cd "$(dirname "$python")" && pwd)/python"
