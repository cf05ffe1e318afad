"""A peft LoRA adapter folder read as the weight updates it makes: scaling x B @ A per adapted linear layer.

Added to the base weights, an update gives the same network as peft's LoRA layers, which compute the
low-rank path beside every adapted layer on every token. Only plain LoRA on linear layers is read here
(`handles`); DoRA, per-module ranks, extra trained modules and the like stay with peft.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PREFIX = "base_model.model."
# settings that change what an adapter computes beyond scaling x B @ A on a linear layer
UNHANDLED = ("use_dora", "rank_pattern", "alpha_pattern", "modules_to_save", "layer_replication",
             "target_parameters", "trainable_token_indices", "alora_invocation_tokens", "fan_in_fan_out")


class UnhandledAdapter(ValueError):
    """An adapter that changes more than linear layers' weights: peft computes it instead."""


def handles(folder: Path) -> bool:
    if not ((folder / CONFIG).exists() and (folder / WEIGHTS).exists()):
        return False
    config = json.loads((folder / CONFIG).read_text())
    return (config.get("peft_type") == "LORA" and config.get("bias", "none") == "none"
            and not config.get("lora_bias") and not any(config.get(key) for key in UNHANDLED))


def weight_updates(folder: Path) -> dict[str, torch.Tensor]:
    """{base weight name ("model.layers.0.self_attn.q_proj.weight"): the update to add to it}."""
    from safetensors.torch import load_file

    config = json.loads((folder / CONFIG).read_text())
    rank = config["r"]
    scaling = config["lora_alpha"] / (math.sqrt(rank) if config.get("use_rslora") else rank)
    tensors = load_file(str(folder / WEIGHTS))
    updates = {}
    for name, down in tensors.items():
        if not name.endswith(".lora_A.weight"):
            continue
        module = name.removeprefix(PREFIX).removesuffix(".lora_A.weight")
        up = tensors[f"{PREFIX}{module}.lora_B.weight"]
        updates[f"{module}.weight"] = scaling * (up.float() @ down.float())
    if len(updates) * 2 != len(tensors):
        raise UnhandledAdapter(f"{folder / WEIGHTS}: holds tensors other than LoRA's A and B matrices")
    return updates
