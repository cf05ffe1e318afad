#!/usr/bin/env bash
# The GPU check, not part of the test command: on a CUDA machine, train the CoreSelf adapter once through
# `persona train` (the same Dagster assets), bf16 at the GPU batch size (the trainer picks both when CUDA is
# there), into a throw-away data folder and MLflow store, then print the device, precision, batch size,
# tokens/s and held-out loss read back from the MLflow run.
#   bash scripts/gpu_check.sh [max_steps]          (default 24, the CPU demo's)
# torch must be a CUDA build: scripts/setup.sh installs the CPU one, so on a GPU host install
# `torch==2.13.0` from the CUDA index into .venv first (or set PYTHON_BIN to an environment that has it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${PYTHON_BIN:-.venv/bin}"
steps="${1:-24}"
"$bin/python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: torch ' + torch.__version__ + ' sees none')"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export MLFLOW_TRACKING_URI="sqlite:///$scratch/mlflow.db" DAGSTER_HOME="$scratch/dagster_home"
mkdir -p "$DAGSTER_HOME"
started=$(date +%s)
"$bin/persona" train core --max-steps "$steps" --data "$scratch/data"
"$bin/python" - "$steps" "$started" <<'PY'
import sys, time
import torch
from mlflow import MlflowClient
from persona_pipeline.training.lora import CUDA_BATCH_MULTIPLIER
client = MlflowClient()
experiment = client.get_experiment_by_name("persona-adapters")
run = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]
metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
print(f"precision: {tags.get('training_precision')}, batch size: {int(params['batch_size']) * CUDA_BATCH_MULTIPLIER} "
      f"(the settings' {params['batch_size']} x {CUDA_BATCH_MULTIPLIER} on CUDA), steps: {sys.argv[1]}")
print(f"tokens/s: {metrics.get('train_tokens_per_second', float('nan')):.0f}")
print(f"held-out loss: adapter {metrics.get('heldout_loss', float('nan')):.4f}, base model {metrics.get('base_heldout_loss', float('nan')):.4f}")
print(f"wall time: {time.time() - float(sys.argv[2]):.0f} s")
PY
