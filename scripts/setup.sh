#!/usr/bin/env bash
# Set up attnas in ./.venv. torch 2.13.0 is installed first and pinned: an unpinned torch would pull a
# multi-GB CUDA build on CPU-only machines (on a GPU machine pip picks that version's CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
