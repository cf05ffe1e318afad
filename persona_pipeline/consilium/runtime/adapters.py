"""Loading the adapters from the MLflow registry (the champion alias by default) onto one base model.

Combination: CoreSelf alone for general questions; for sports questions CoreSelf and SportMind are
stacked, i.e. both low-rank updates are added to the base weights: the plain decoder adds them to the
merged weights (plain_llama.py), and on the peft path `add_weighted_adapter` with `cat` and weights 1.0
keeps each update exactly as trained, where `linear` would average and halve them. Switching to
SportMind alone would drop the worldview the seed asks to keep "always loaded".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from ...training.adapters import ADAPTERS
from ...training.tracking import tracking_uri
from .registry_cache import RegistryCache

# the adapters a sports question stacks, and the name of their stacked combination on the model
STACKED = ("core", "sport")
COMBINED = "+".join(STACKED)


@dataclass
class LoadedAdapters:
    """The adapters found, and the model carrying them, loaded on first use: an answer quotes its evidence,
    or says the coach has not written about it, before the model is needed, and `--evidence-only` and an
    abstention never load it (seconds of a cold start)."""
    load: Callable[[], object]                     # PlainLlama or PeftModelRunner
    available: dict[str, str] = field(default_factory=dict)   # key -> "persona-core-self v3"
    notes: list[str] = field(default_factory=list)

    @cached_property
    def model(self):
        return self.load()

    def has(self, key: str) -> bool:
        return key in self.available


def load_adapters(base, dirs: dict[str, Path], labels: dict[str, str], notes: list[str]) -> LoadedAdapters:
    """The adapters in `dirs` on the base model `base` (a BaseModel), loaded when the model is first used."""
    return LoadedAdapters(lambda: open_model(base, dirs), labels, notes)


def open_model(base, dirs: dict[str, Path]):
    """The plain-torch decoder with the adapters merged in where it computes the model and adapters
    exactly, transformers and peft otherwise."""
    from .lora_deltas import UnhandledAdapter
    from .plain_llama import PlainLlama

    if PlainLlama.handles(Path(base.path), dirs):
        try:
            return PlainLlama(Path(base.path), dirs)
        except UnhandledAdapter:  # found only in its weights file, e.g. LoRA on the token embeddings
            pass
    from .peft_model import PeftModelRunner

    return PeftModelRunner.load(base, dirs)


def resolve_adapter_dirs(source: str, cache: Path, uri: str | None = None) -> tuple[dict[str, Path], dict[str, str], list[str]]:
    """{key: local folder} for each adapter, labels, and notes on what is missing. `source` is a registry
    alias, a version number, or a local folder holding `core/` and/or `sport/` adapter folders."""
    local = Path(source).expanduser()
    if local.is_dir():
        dirs = {k: local / k for k in ADAPTERS if (local / k / "adapter_config.json").exists()}
        notes = [f"no {ADAPTERS[k].title} adapter in {local / k}" for k in ADAPTERS if k not in dirs]
        return dirs, {k: str(d) for k, d in dirs.items()}, notes
    registry = RegistryCache(tracking_uri(uri), cache)
    dirs, labels, notes = {}, {}, []
    for key, spec in ADAPTERS.items():
        found = registry.resolve(spec.registered_model, source)
        if found is None:
            notes.append(f"no {spec.title} adapter ({spec.registered_model} '{source}') yet: "
                         f"materialize {spec.asset_name} (`persona train {key}`)")
            continue
        version, dirs[key] = found
        labels[key] = f"{spec.registered_model} v{version}"
    registry.save()
    return dirs, labels, notes
