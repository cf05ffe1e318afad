"""Per-step training metrics into the active MLflow run (kept apart from tracking.py, which `persona ask`
imports and which must not pull in the trainer)."""
from __future__ import annotations

import math
import time

import mlflow
from transformers import TrainerCallback


class MlflowStepMetrics(TrainerCallback):
    """Per-step train loss, eval loss and perplexity, learning rate and tokens/s into the active run."""

    def __init__(self):
        self.last_tokens = 0
        self.last_time = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        metrics = {}
        if "loss" in logs:
            metrics["train_loss"] = logs["loss"]
            now, tokens = time.perf_counter(), int(getattr(state, "num_input_tokens_seen", 0) or 0)
            if self.last_time is not None and now > self.last_time:
                metrics["tokens_per_second"] = (tokens - self.last_tokens) / (now - self.last_time)
            self.last_time, self.last_tokens = now, tokens
        if "learning_rate" in logs:
            metrics["learning_rate"] = logs["learning_rate"]
        if "eval_loss" in logs:
            metrics["eval_loss"] = logs["eval_loss"]
            metrics["eval_perplexity"] = math.exp(min(logs["eval_loss"], 50))
        if metrics:
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=state.global_step)

    def on_train_begin(self, args, state, control, **kwargs):
        self.last_time, self.last_tokens = time.perf_counter(), int(getattr(state, "num_input_tokens_seen", 0) or 0)
