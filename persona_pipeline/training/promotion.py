"""Adapters scored on the held-out set, and the champion alias moved only by a better score."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peft import PeftModel

from ..progress import Log
from ..settings import Paths
from ..sft.adapter_data import load_heldout
from .adapters import BASE_TAG, BASE_TAG_CHARS, AdapterSpec
from .base_model import BaseModel, load_model, load_tokenizer, prepare_base_model
from .heldout import assistant_token_loss, generate
from .settings import TrainingSettings
from .tracking import RunLogger

BASE = "base"  # the base model alone, scored with every adapter switched off


@dataclass
class HeldoutScores:
    model: object          # the base model with every scored adapter loaded, the last one active
    tokenizer: object
    losses: dict[str, float]  # adapter name (or BASE) -> assistant-token loss


def score_on_heldout(base: BaseModel, adapters: dict[str, Path], heldout: list[list[dict]], settings: TrainingSettings,
                     *, with_base: bool = False) -> HeldoutScores:
    """Every adapter loaded onto one base model and scored in turn by the same code, so neither side of
    a comparison is favoured; `with_base` scores the base model alone too."""
    tokenizer = load_tokenizer(base)
    model, losses = None, {}
    for name, folder in adapters.items():
        if model is None:
            model = PeftModel.from_pretrained(load_model(base), str(folder), adapter_name=name)
        else:
            model.load_adapter(str(folder), adapter_name=name)
            model.set_adapter(name)
        losses[name] = assistant_token_loss(model, tokenizer, heldout, settings.max_seq_length)
    if with_base:
        with model.disable_adapter():
            losses[BASE] = assistant_token_loss(model, tokenizer, heldout, settings.max_seq_length)
    return HeldoutScores(model, tokenizer, losses)


def sample_generations(scores: HeldoutScores, heldout: list[list[dict]], settings: TrainingSettings) -> dict[str, list[str]]:
    """The first held-out prompts answered by the base model and by the active adapter, beside the reference."""
    model, tokenizer = scores.model, scores.tokenizer
    samples = {"prompt": [], "reference": [], "base": [], "adapter": []}
    for messages in heldout[: settings.sample_generations]:
        samples["prompt"].append(next(m["content"] for m in messages if m["role"] == "user"))
        samples["reference"].append(next(m["content"] for m in messages if m["role"] == "assistant"))
        with model.disable_adapter():
            samples["base"].append(generate(model, tokenizer, messages, settings.sample_max_new_tokens))
        samples["adapter"].append(generate(model, tokenizer, messages, settings.sample_max_new_tokens))
    return samples


@dataclass
class EvalOutcome:
    version: str
    heldout_loss: float
    champion_version: str | None
    champion_loss: float | None
    promoted: bool


def evaluate_and_promote(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, version: str, *,
                         report: Log = print, uri: str | None = None) -> EvalOutcome:
    """Compare `version` with the current champion on the held-out set; move the alias only if better.
    Both are scored here by the same code, so a changed held-out set never favours either."""
    tracking = RunLogger(uri)
    name = spec.registered_model
    candidate = tracking.model_version(name, version)
    current = tracking.champion(name)
    base = prepare_base_model(settings.base_model, log=report)
    heldout = load_heldout(spec, settings)
    scratch = paths.data_dir / "eval" / "adapters"
    adapters = {"candidate": tracking.download(candidate, scratch / f"{spec.key}-v{candidate.version}")}
    rival = current is not None and str(current.version) != str(candidate.version)
    # a champion trained on another base model cannot be loaded on this one, nor its loss compared (another
    # tokenizer counts other tokens); the base model configured now is the project's choice, so the one
    # version that fits it takes the alias
    configured = base.revision[:BASE_TAG_CHARS]
    other_base = (rival and current.tags.get(BASE_TAG) not in (None, configured)
                  and candidate.tags.get(BASE_TAG) == configured)
    if rival and not other_base:
        adapters["champion"] = tracking.download(current, scratch / f"{spec.key}-v{current.version}")
    losses = score_on_heldout(base, adapters, heldout, settings).losses
    candidate_loss, champion_loss = losses["candidate"], losses.get("champion")
    promoted = current is None or other_base or (rival and candidate_loss < champion_loss)
    if promoted:
        tracking.make_champion(name, candidate.version)
    if other_base:
        tracking.tag_version(name, candidate.version, "promoted_because", "base_model_changed")
    tracking.tag_version(name, candidate.version, "heldout_loss", f"{candidate_loss:.6f}")
    with tracking.reopened(candidate.run_id) as run:
        run.log_metrics({"eval_candidate_heldout_loss": candidate_loss,
                         **({"eval_champion_heldout_loss": champion_loss} if champion_loss is not None else {})})
        run.set_tags({"became_champion": str(promoted).lower()})
    report(f"{spec.title} v{candidate.version}: held-out loss {candidate_loss:.4f}"
           + (f" vs champion v{current.version} {champion_loss:.4f}" if champion_loss is not None else "")
           + (f" -> champion: v{current.version} was trained on another base model" if other_base
              else " -> champion" if promoted else " -> champion unchanged"))
    return EvalOutcome(str(candidate.version), candidate_loss, str(current.version) if current else None, champion_loss, promoted)
