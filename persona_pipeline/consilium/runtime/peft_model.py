"""Any base model transformers loads, with the adapters attached by peft: the path for what the plain
decoder (plain_llama.py) does not compute. Same interface: `use`, `decode`, logits on call."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import torch

from .adapters import COMBINED, STACKED
from .generation import token_id_set


class PeftModelRunner:
    def __init__(self, model, adapters: list[str]):
        self.model, self.adapters = model, adapters
        self.eos_token_ids = token_id_set(model.generation_config.eos_token_id)

    @classmethod
    def load(cls, base, dirs: dict[str, Path]) -> PeftModelRunner:
        from ...training.base_model import load_model

        return cls(attach_adapters(load_model(base), dirs), list(dirs))

    def use(self, adapters: list[str]):
        if not self.adapters:
            return contextlib.nullcontext()
        if not adapters:
            return self.model.disable_adapter()
        self.model.set_adapter(COMBINED if set(adapters) == set(STACKED) else adapters[0])
        return contextlib.nullcontext()

    def eval(self) -> PeftModelRunner:
        self.model.eval()
        return self

    def __call__(self, input_ids: torch.Tensor):
        return self.model(input_ids=input_ids)

    def decode(self, ids: torch.Tensor, cache):
        # transformers 5 names the key-value cache `cache`, in and out (`past_key_values` is deprecated)
        out = self.model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1], out.cache


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
