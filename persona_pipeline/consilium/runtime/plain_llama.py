"""The packaged base model and its adapters without transformers or peft: each adapter combination is
the base network with the adapters' updates added to its weights, built on first use and kept.

Merged weights also decode faster than peft's unmerged layers, which add two small matrix products
beside every adapted layer on every token.
"""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import torch

from . import llama_decoder, lora_deltas
from .generation import token_id_set
from .llama_decoder import Cache, LlamaDecoder

# the weights an update may change: the attention and feed-forward projections the decoder fuses
_ADAPTABLE = re.compile(r"model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.weight")


class PlainLlama:
    def __init__(self, folder: Path, adapter_dirs: dict[str, Path]):
        self.shape, self.base_weights = llama_decoder.load_weights(folder)
        self.updates = {key: lora_deltas.weight_updates(d) for key, d in adapter_dirs.items()}
        for key, updates in self.updates.items():
            unknown = [n for n in updates if not (_ADAPTABLE.fullmatch(n) and n in self.base_weights)]
            if unknown:
                raise lora_deltas.UnhandledAdapter(f"{adapter_dirs[key]}: adapts {unknown[0]}, which the plain decoder does not")
        self.eos_token_ids = _eos_token_ids(folder)
        self._networks: dict[tuple[str, ...], LlamaDecoder] = {}
        self._active: tuple[str, ...] = ()

    @staticmethod
    def handles(folder: Path, adapter_dirs: dict[str, Path]) -> bool:
        return llama_decoder.handles(folder) and all(lora_deltas.handles(d) for d in adapter_dirs.values())

    @contextlib.contextmanager
    def use(self, adapters: list[str]):
        """The adapters in `adapters` added to the base (none: the base alone) while the block runs."""
        previous, self._active = self._active, tuple(sorted(adapters))
        try:
            yield
        finally:
            self._active = previous

    def eval(self) -> PlainLlama:
        return self

    def __call__(self, input_ids: torch.Tensor) -> SimpleNamespace:
        """Logits for every position, as `model(input_ids=...).logits` gives them."""
        return SimpleNamespace(logits=self._network().forward(input_ids)[0])

    def decode(self, ids: torch.Tensor, cache: Cache | None) -> tuple[torch.Tensor, Cache]:
        """The next token's logits after `ids` (and what `cache` holds), and the extended cache."""
        logits, cache = self._network().forward(ids, cache, last_only=True)
        return logits[:, -1], cache

    def _network(self) -> LlamaDecoder:
        if self._active not in self._networks:
            weights = dict(self.base_weights)
            for key in self._active:
                for name, update in self.updates[key].items():
                    weights[name] = weights[name] + update
            self._networks[self._active] = LlamaDecoder(self.shape, weights)
        return self._networks[self._active]


def _eos_token_ids(folder: Path) -> set[int]:
    ids = set()
    for name in ("generation_config.json", "config.json"):
        if (folder / name).exists():
            ids |= token_id_set(json.loads((folder / name).read_text()).get("eos_token_id"))
    return ids
