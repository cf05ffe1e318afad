#!/usr/bin/env bash
# The main job on the shipped sample materials: index them through Dagster and evaluate retrieval,
# train both adapters (CPU-sized defaults) with MLflow tracking and champion evaluation, evaluate the
# consilium, and answer a sample question in the coach's voice with citations.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/persona index --eval
.venv/bin/persona validate
.venv/bin/persona train core
.venv/bin/persona train sport
.venv/bin/persona eval
.venv/bin/persona ask "How long does the marathon taper last, and what stays in it?" --explain
