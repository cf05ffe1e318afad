"""One adapter trained from its latest dataset: trained, scored against the base model on the held-out set,
tracked and registered in MLflow."""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd

from .. import charts
from ..progress import Log, Progress
from ..settings import Paths
from ..sft.adapter_data import load_heldout
from ..sft.dataset import SftDataset, changed_examples, load_dataset_at, load_latest
from .adapters import BASE_TAG, BASE_TAG_CHARS, DATASET_TAG, SETTINGS_TAG, AdapterSpec
from .base_model import BaseModel, prepare_base_model
from .distributed import is_main, world_size
from .heldout import perplexity
from .lora import TrainResult, train_lora
from .outcome import TrainingOutcome
from .promotion import BASE, sample_generations, score_on_heldout
from .settings import TrainingSettings
from .tracking import RunLogger

ADAPTER = "adapter"  # the trained adapter's name when it is scored beside the base model
TRAINER_METRICS = {"loss": "train_loss", "eval_loss": "eval_loss", "learning_rate": "learning_rate",
                   "tokens_per_second": "tokens_per_second"}  # trainer log key -> MLflow metric


def train_adapter(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, *, report: Log = print,
                  tags: dict | None = None, uri: str | None = None) -> TrainingOutcome | None:
    """Train on the latest dataset, log everything to MLflow, register a new version. A failure marks
    the MLflow run FAILED and registers nothing. In a multi-process run only the main process does all
    that; the others train their share of each step and return None."""
    dataset = load_latest(paths.data_dir / "sft" / spec.key)
    base = prepare_base_model(settings.base_model, log=report)
    if not is_main():
        train_lora(base=base, dataset=dataset, settings=settings, work_dir=paths.data_dir / "checkpoints" / spec.key,
                   adapter_out=None)
        return None
    heldout = load_heldout(spec, settings)
    tracking = RunLogger(uri)
    for run_id in tracking.close_abandoned_runs():
        report(f"MLflow run {run_id} marked KILLED: the process that trained it is gone")
    started = time.perf_counter()
    run_tags = {"adapter": spec.title, "persona.adapter_key": spec.key, **(tags or {})}
    with tracking.new_run(f"{spec.title} {dt.datetime.now():%m-%d %H:%M:%S}", run_tags) as run:
        report(f"MLflow run {run.run_id} ({world_size()} training process{'es' if world_size() > 1 else ''})")
        _log_inputs(run, spec, settings, base, dataset)
        _log_changes(run, spec, paths, dataset)
        adapter_dir = paths.data_dir / "adapters" / spec.key / run.run_id
        steps = Progress(report, f"training {spec.title}", "steps")
        result = train_lora(base=base, dataset=dataset, settings=settings, work_dir=paths.data_dir / "checkpoints" / spec.key,
                            adapter_out=adapter_dir, report=lambda row: _log_trainer_row(run, steps, row))
        steps.close()
        history = loss_history(result.history)
        report("scoring the held-out set: base model vs adapter")
        scores = score_on_heldout(base, {ADAPTER: adapter_dir}, heldout, settings, with_base=True)
        _log_results(run, spec, result, scores.losses, history)
        run.log_table(sample_generations(scores, heldout, settings), "sample_generations.json")
        run.log_artifacts(adapter_dir, "adapter")
        version = run.register(spec.registered_model, tags={"heldout_loss": f"{scores.losses[ADAPTER]:.6f}",
                                                            DATASET_TAG: dataset.digest[:16], SETTINGS_TAG: settings.fingerprint(),
                                                            BASE_TAG: base.revision[:BASE_TAG_CHARS]})
        run.set_tags({"registered_version": version})
    return TrainingOutcome(run.run_id, version, tracking.experiment_id, tracking.uri, result.steps, result.eval_loss,
                           scores.losses[ADAPTER], scores.losses[BASE], time.perf_counter() - started,
                           result.resumed_from, history, adapter_dir)


def _log_inputs(run: RunLogger, spec: AdapterSpec, settings: TrainingSettings, base: BaseModel, dataset: SftDataset) -> None:
    """The settings, base model and dataset the run trains with (the system prompt as a file: it is long)."""
    run.log_params({**settings.model_dump(exclude={"system_prompt"}),
                    "base_model_id": base.model_id, "base_model_revision": base.revision[:40],
                    "dataset_digest": dataset.digest[:16], "train_examples": len(dataset.data["train"]),
                    "eval_examples": len(dataset.data["eval"])})
    run.log_text(settings.system_prompt, "system_prompt.txt")
    for split in ("train", "eval"):
        rows = dataset.data[split]
        frame = pd.DataFrame({"id": rows["id"], "messages": [json.dumps(m, ensure_ascii=False) for m in rows["messages"]]})
        run.log_dataset(frame, source=dataset.path, name=f"sft_{spec.key}_{split}", digest=dataset.digest[:16], context=split)


def _log_changes(run: RunLogger, spec: AdapterSpec, paths: Paths, dataset: SftDataset) -> None:
    """Which examples were added, changed or removed since the newest registered version's dataset, so that
    "what changed between v3 and v4" has its answer on v4's run (tags, and examples_changed.json)."""
    previous = run.latest_version(spec.registered_model)
    before = load_dataset_at(paths.data_dir / "sft" / spec.key, previous.tags.get(DATASET_TAG, "")) if previous else None
    if previous is not None and before is None:
        run.set_tags({"examples_changed_since": f"v{previous.version} (its dataset is no longer on disk)"})
        return
    changes = changed_examples(before, dataset.data)
    run.set_tags({"examples_changed_since": f"v{previous.version}" if previous else "nothing (first version)",
                  **{f"examples_{kind}": str(len(ids)) for kind, ids in changes.items()}})
    run.log_dict(changes, "examples_changed.json")


def _log_trainer_row(run: RunLogger, steps: Progress, row: dict) -> None:
    """A trainer log row as MLflow step metrics and as the progress line."""
    metrics = {name: float(row[key]) for key, name in TRAINER_METRICS.items() if key in row}
    if "eval_loss" in row:
        metrics["eval_perplexity"] = perplexity(row["eval_loss"])
    if metrics:
        run.log_metrics(metrics, step=row["step"])
    if "loss" in row or "eval_loss" in row:
        details = {k: row[k] for k in ("loss", "eval_loss") if k in row}
        if "tokens_per_second" in row:
            details["tok/s"] = round(row["tokens_per_second"])
        steps.update(row["step"], row["max_steps"], **details)


def _log_results(run: RunLogger, spec: AdapterSpec, result: TrainResult, losses: dict[str, float],
                 history: dict[str, list[tuple[int, float]]]) -> None:
    run.set_tags({"training_precision": result.precision,
                  **({"resumed_from_checkpoint": Path(result.resumed_from).name} if result.resumed_from else {})})
    run.log_metrics({"heldout_loss": losses[ADAPTER], "heldout_perplexity": perplexity(losses[ADAPTER]),
                     "base_heldout_loss": losses[BASE], "train_seconds": result.seconds,
                     "train_tokens_per_second": result.tokens_per_second})
    run.log_figure(charts.loss_curves(history, f"{spec.title} loss"), "loss_curve.png")


def loss_history(log_rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """The trainer's log rows as loss curves: "train" / "eval" -> (step, loss)."""
    return {name: [(row["step"], float(row[key])) for row in log_rows if key in row]
            for name, key in (("train", "loss"), ("eval", "eval_loss"))}
