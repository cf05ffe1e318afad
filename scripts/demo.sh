#!/usr/bin/env bash
# The main job on the shipped sample materials: index them through Dagster, evaluate retrieval, search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/persona index --eval
.venv/bin/persona search "How long does Sokolov's marathon taper last?" -k 3
