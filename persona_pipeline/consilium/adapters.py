"""Loading the adapters from the MLflow registry (the champion alias by default) onto one base model.

Combination: CoreSelf alone for general questions; for sports questions CoreSelf and SportMind are
stacked, i.e. both low-rank updates are added to the base weights (peft `add_weighted_adapter` with
`cat` and weights 1.0 keeps each update exactly as trained, where `linear` would average and halve
them). Switching to SportMind alone would drop the worldview the seed asks to keep "always loaded".
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from ..training.adapters import ADAPTERS
from ..training.tracking import tracking_uri
from .registry_cache import RegistryCache

# the adapters a sports question stacks, and the name of their stacked combination on the model
STACKED = ("core", "sport")
COMBINED = "+".join(STACKED)


@dataclass
class LoadedAdapters:
    """The adapters found, and the model carrying them, loaded on first use: an answer quotes its evidence,
    or says the coach has not written about it, before the model is needed, and `--evidence-only` and an
    abstention never load it (seconds of a cold start)."""
    load: Callable[[], object]                     # PeftModel, or the plain base model when none exist
    available: dict[str, str] = field(default_factory=dict)   # key -> "persona-core-self v3"
    notes: list[str] = field(default_factory=list)

    @cached_property
    def model(self):
        return self.load()

    def has(self, key: str) -> bool:
        return key in self.available


def load_adapters(load_base: Callable[[], object], dirs: dict[str, Path], labels: dict[str, str],
                  notes: list[str]) -> LoadedAdapters:
    """The adapters in `dirs`, attached to the base model `load_base` gives when the model is first used."""
    return LoadedAdapters(lambda: attach_adapters(load_base(), dirs), labels, notes)


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


def attach_adapters(base_model, dirs: dict[str, Path]):
    """A PeftModel with each adapter of `dirs` (and their stacked combination), or `base_model` without any."""
    if not dirs:
        return base_model
    from peft import PeftModel

    keys = list(dirs)
    with warnings.catch_warnings():
        # peft asks the base model `is_gradient_checkpointing`, a name transformers now warns is deprecated:
        # a FutureWarning on every `persona ask` that no user can act on
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        model = PeftModel.from_pretrained(base_model, str(dirs[keys[0]]), adapter_name=keys[0])
    for key in keys[1:]:
        model.load_adapter(str(dirs[key]), adapter_name=key)
    if set(STACKED) <= set(dirs):
        model.add_weighted_adapter(list(STACKED), [1.0] * len(STACKED), adapter_name=COMBINED, combination_type="cat")
    model.eval()
    return model
