#!/usr/bin/env bash
# The main job on the shipped sample materials: index them through Dagster and evaluate retrieval,
# train both adapters (CPU-sized defaults) with MLflow tracking and champion evaluation, then search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/persona index --eval
.venv/bin/persona validate
.venv/bin/persona train core
.venv/bin/persona train sport
.venv/bin/persona search "How long does Sokolov's marathon taper last?" -k 3
