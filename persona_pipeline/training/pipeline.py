"""The adapter workflow the assets and the CLI share: examples -> dataset -> trained, tracked, registered
adapter -> held-out comparison with the champion."""
from __future__ import annotations

import datetime as dt
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mlflow
import pandas as pd
from mlflow import MlflowClient

from .. import charts
from ..progress import Progress
from ..settings import Paths
from ..sft.dataset import SftDataset, build_dataset, load_latest, with_system_prompt
from ..sft.validation import load_and_validate
from ..worldview_schema import Example, Problem
from .adapters import CHAMPION, AdapterSpec
from .base_model import BaseModel, load_model, load_tokenizer, prepare_base_model
from .heldout import assistant_token_loss, generate, perplexity
from .lora import train_lora
from .settings import TrainingSettings
from .tracking import (champion, close_abandoned_runs, download_version, owner_tags, register_version, tracking_uri,
                       use_experiment)

Report = Callable[[str], None]


@dataclass
class DatasetResult:
    dataset: SftDataset
    problems: list[Problem]
    token_lengths: list[int]


@dataclass
class TrainingOutcome:
    run_id: str
    version: str
    experiment_id: str
    tracking_uri: str
    steps: int
    eval_loss: float | None
    heldout_loss: float
    base_heldout_loss: float
    seconds: float
    resumed_from: str | None
    loss_history: dict[str, list[tuple[int, float]]]  # "train" / "eval" -> (step, loss)
    adapter_dir: Path


def conversation_counter(tokenizer) -> Callable[[list[dict]], int]:
    return lambda messages: len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def validate_examples(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, tokenizer=None) -> tuple[list[Example], list[Problem]]:
    count = None
    if tokenizer is not None:
        counter = conversation_counter(tokenizer)
        count = lambda messages: counter(with_system_prompt(messages, settings.system_prompt))  # noqa: E731
    return load_and_validate(paths.materials_dir / spec.examples_folder, paths.materials_dir, count,
                             settings.max_seq_length if tokenizer is not None else None)


def build_sft_dataset(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, base: BaseModel,
                      augment: Callable[[list[dict]], list[list[dict]]] | None = None) -> DatasetResult:
    """`augment`: see sft.dataset.build_dataset (the retrieval-augmented variants, when they are switched on)."""
    tokenizer = load_tokenizer(base)
    examples, problems = validate_examples(spec, paths, settings, tokenizer)
    dataset = build_dataset(examples, paths.data_dir / "sft" / spec.key, system_prompt=settings.system_prompt,
                            eval_fraction=settings.eval_fraction, augment=augment)
    counter = conversation_counter(tokenizer)
    lengths = [counter(m) for split in ("train", "eval") for m in dataset.data[split]["messages"]]
    return DatasetResult(dataset, problems, lengths)


def load_heldout(spec: AdapterSpec, settings: TrainingSettings) -> list[list[dict]]:
    examples, problems = load_and_validate(spec.heldout_file.parent, spec.heldout_file.parent.parent)
    examples = [e for e in examples if Path(e.file).name == spec.heldout_file.name]
    if problems:
        raise ValueError("held-out examples are invalid:\n" + "\n".join(str(p) for p in problems))
    return [with_system_prompt(e.messages, settings.system_prompt) for e in examples]


def train_adapter(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, *, report: Report = print,
                  tags: dict | None = None, uri: str | None = None) -> TrainingOutcome:
    """Train on the latest dataset, log everything to MLflow, register a new version. A failure marks
    the MLflow run FAILED and registers nothing."""
    dataset = load_latest(paths.data_dir / "sft" / spec.key)
    base = prepare_base_model(settings.base_model, log=report)
    heldout = load_heldout(spec, settings)
    uri = tracking_uri(uri)
    experiment_id = use_experiment(uri)
    client = MlflowClient(uri)
    for run_id in close_abandoned_runs(client, experiment_id):
        report(f"MLflow run {run_id} marked KILLED: the process that trained it is gone")
    run_name = f"{spec.title} {dt.datetime.now():%m-%d %H:%M:%S}"
    started = time.perf_counter()
    with mlflow.start_run(run_name=run_name, tags={"adapter": spec.title, "persona.adapter_key": spec.key, **owner_tags(),
                                                   **(tags or {})}) as run:
        mlflow.log_params({**{k: (json.dumps(v) if isinstance(v, list) else v) for k, v in settings.model_dump().items()
                              if k != "system_prompt"},
                           "base_model_id": base.model_id, "base_model_revision": base.revision[:40],
                           "dataset_digest": dataset.digest[:16], "train_examples": len(dataset.data["train"]),
                           "eval_examples": len(dataset.data["eval"])})
        mlflow.log_text(settings.system_prompt, "system_prompt.txt")
        for split in ("train", "eval"):
            frame = pd.DataFrame({"id": dataset.data[split]["id"],
                                  "messages": [json.dumps(m, ensure_ascii=False) for m in dataset.data[split]["messages"]]})
            with warnings.catch_warnings():
                # MLflow registers its local-path source twice and warns that a path "can be interpreted in
                # multiple ways" (both the same class); nothing for a user to act on
                warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
                source = mlflow.data.from_pandas(frame, source=str(dataset.path), name=f"sft_{spec.key}_{split}",
                                                 digest=dataset.digest[:16])
            mlflow.log_input(source, context=split)

        steps = Progress(report, f"training {spec.title}", "steps")

        def on_log(row: dict) -> None:
            metrics = _step_metrics(row)
            if metrics:
                mlflow.log_metrics(metrics, step=row["step"])
            if "loss" in row or "eval_loss" in row:
                details = {k: row[k] for k in ("loss", "eval_loss") if k in row}
                if "tokens_per_second" in row:
                    details["tok/s"] = round(row["tokens_per_second"])
                steps.update(row["step"], row["max_steps"], **details)

        adapter_dir = paths.data_dir / "adapters" / spec.key / run.info.run_id
        result = train_lora(base=base, dataset=dataset, settings=settings, work_dir=paths.data_dir / "checkpoints" / spec.key,
                            adapter_out=adapter_dir, report=on_log)
        steps.close()
        history = loss_history(result.history)
        mlflow.set_tag("training_precision", result.precision)
        if result.resumed_from:
            mlflow.set_tag("resumed_from_checkpoint", Path(result.resumed_from).name)
        report("scoring the held-out set: base model vs adapter")
        base_loss, adapter_loss, samples = _heldout_comparison(base, adapter_dir, heldout, settings)
        mlflow.log_metrics({"heldout_loss": adapter_loss, "heldout_perplexity": perplexity(adapter_loss),
                            "base_heldout_loss": base_loss, "train_seconds": result.seconds,
                            "train_tokens_per_second": result.tokens_per_second})
        mlflow.log_table(samples, artifact_file="sample_generations.json")
        mlflow.log_figure(charts.loss_curves(history, f"{spec.title} loss"), "loss_curve.png")
        mlflow.log_artifacts(str(adapter_dir), artifact_path="adapter")
        version = register_version(client, spec.registered_model, run.info.run_id,
                                   tags={"heldout_loss": f"{adapter_loss:.6f}", "dataset_digest": dataset.digest[:16],
                                         "base_model_revision": base.revision[:16]})
        mlflow.set_tag("registered_version", version.version)
    return TrainingOutcome(run.info.run_id, str(version.version), experiment_id, uri, result.steps, result.eval_loss,
                           adapter_loss, base_loss, time.perf_counter() - started, result.resumed_from, history,
                           adapter_dir)


def _step_metrics(row: dict) -> dict[str, float]:
    """A trainer log row as MLflow per-step metrics."""
    names = {"loss": "train_loss", "eval_loss": "eval_loss", "learning_rate": "learning_rate",
             "tokens_per_second": "tokens_per_second"}
    metrics = {name: float(row[key]) for key, name in names.items() if key in row}
    if "eval_loss" in row:
        metrics["eval_perplexity"] = perplexity(row["eval_loss"])
    return metrics


def loss_history(log_rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """The trainer's log rows as loss curves: "train" / "eval" -> (step, loss)."""
    return {name: [(row["step"], float(row[key])) for row in log_rows if key in row]
            for name, key in (("train", "loss"), ("eval", "eval_loss"))}


def _heldout_comparison(base: BaseModel, adapter_dir: Path, heldout: list[list[dict]], settings: TrainingSettings):
    from peft import PeftModel

    tokenizer = load_tokenizer(base)
    model = PeftModel.from_pretrained(load_model(base), str(adapter_dir))
    adapter_loss = assistant_token_loss(model, tokenizer, heldout, settings.max_seq_length)
    with model.disable_adapter():
        base_loss = assistant_token_loss(model, tokenizer, heldout, settings.max_seq_length)
    samples = {"prompt": [], "reference": [], "base": [], "adapter": []}
    for messages in heldout[: settings.sample_generations]:
        samples["prompt"].append(next(m["content"] for m in messages if m["role"] == "user"))
        samples["reference"].append(next(m["content"] for m in messages if m["role"] == "assistant"))
        with model.disable_adapter():
            samples["base"].append(generate(model, tokenizer, messages, settings.sample_max_new_tokens))
        samples["adapter"].append(generate(model, tokenizer, messages, settings.sample_max_new_tokens))
    return base_loss, adapter_loss, samples


@dataclass
class EvalOutcome:
    version: str
    heldout_loss: float
    champion_version: str | None
    champion_loss: float | None
    promoted: bool


def evaluate_and_promote(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, version: str, *,
                         report: Report = print, uri: str | None = None) -> EvalOutcome:
    """Compare `version` with the current champion on the held-out set; move the alias only if better.
    Both are scored here by the same code, so a changed held-out set never favours either."""
    uri = tracking_uri(uri)
    use_experiment(uri)
    client = MlflowClient(uri)
    candidate = client.get_model_version(spec.registered_model, version)
    current = champion(client, spec.registered_model)
    base = prepare_base_model(settings.base_model, log=report)
    heldout = load_heldout(spec, settings)
    scratch = paths.data_dir / "eval" / "adapters"
    from peft import PeftModel

    tokenizer = load_tokenizer(base)
    # one base model, both adapters loaded onto it and scored in turn
    model = PeftModel.from_pretrained(load_model(base), str(download_version(candidate, scratch / f"{spec.key}-v{candidate.version}", uri)),
                                      adapter_name="candidate")
    candidate_loss = assistant_token_loss(model, tokenizer, heldout, settings.max_seq_length)
    champion_loss = None
    if current is not None and str(current.version) != str(candidate.version):
        model.load_adapter(str(download_version(current, scratch / f"{spec.key}-v{current.version}", uri)), adapter_name="champion")
        model.set_adapter("champion")
        champion_loss = assistant_token_loss(model, tokenizer, heldout, settings.max_seq_length)
    promoted = current is None or (str(current.version) != str(candidate.version) and candidate_loss < champion_loss)
    if promoted:
        client.set_registered_model_alias(spec.registered_model, CHAMPION, candidate.version)
    client.set_model_version_tag(spec.registered_model, candidate.version, "heldout_loss", f"{candidate_loss:.6f}")
    with mlflow.start_run(run_id=candidate.run_id):
        mlflow.log_metrics({"eval_candidate_heldout_loss": candidate_loss,
                            **({"eval_champion_heldout_loss": champion_loss} if champion_loss is not None else {})})
        mlflow.set_tag("became_champion", str(promoted).lower())
    report(f"{spec.title} v{candidate.version}: held-out loss {candidate_loss:.4f}"
           + (f" vs champion v{current.version} {champion_loss:.4f}" if champion_loss is not None else "")
           + (" -> champion" if promoted else " -> champion unchanged"))
    return EvalOutcome(str(candidate.version), candidate_loss, str(current.version) if current else None, champion_loss, promoted)

