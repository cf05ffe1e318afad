"""Llama's decoder (the packaged SmolLM2's architecture) in plain torch, for `persona ask`.

Loading the same network through transformers costs about 3 s of a cold start before it computes anything:
its modeling code imports `torch.distributed`, `torch._dynamo` and sympy, and peft wraps every linear layer
of the model to attach the adapters. The forward pass itself is small: token embeddings, then layers of
RMSNorm, grouped-query attention with rotary positions, and a SwiGLU feed-forward block, each with a
residual. Query, key and value are one matrix product here, and so are the gate and up projections. The
tests hold its logits and greedy tokens to transformers' and peft's on the same weights; any other
architecture or configuration goes through transformers (`handles`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

WEIGHTS = "model.safetensors"
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
FEED_FORWARD = ("gate_proj", "up_proj", "down_proj")


def handles(folder: Path) -> bool:
    """Whether the model in `folder` is a Llama this module computes exactly: one safetensors file, plain
    rotary positions, SiLU, no biases, no tensor-parallel split."""
    config_file = folder / "config.json"
    if not (config_file.exists() and (folder / WEIGHTS).exists()):
        return False
    config = json.loads(config_file.read_text())
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    return (config.get("architectures") == ["LlamaForCausalLM"] and config.get("hidden_act") == "silu"
            and rope.get("rope_type", "default") == "default" and not config.get("attention_bias")
            and not config.get("mlp_bias") and config.get("pretraining_tp", 1) == 1)


@dataclass(frozen=True)
class LlamaShape:
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    rope_theta: float
    tied: bool

    @classmethod
    def of(cls, config: dict) -> LlamaShape:
        heads = config["num_attention_heads"]
        rope = config.get("rope_parameters") or {}
        return cls(config["num_hidden_layers"], heads, config.get("num_key_value_heads") or heads,
                   config.get("head_dim") or config["hidden_size"] // heads, config["rms_norm_eps"],
                   rope.get("rope_theta", config.get("rope_theta", 10000.0)), config.get("tie_word_embeddings", False))


@dataclass
class Layer:
    input_norm: torch.Tensor
    qkv: torch.Tensor
    o: torch.Tensor
    post_norm: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor


# one (keys, values) pair per layer, each (batch, kv heads, positions so far, head dim)
Cache = list[tuple[torch.Tensor, torch.Tensor]]


class LlamaDecoder:
    """The network on one set of weights: the base's, or the base's with low-rank updates added."""

    def __init__(self, shape: LlamaShape, weights: dict[str, torch.Tensor]):
        self.shape = shape
        self.embed = weights["model.embed_tokens.weight"]
        self.norm = weights["model.norm.weight"]
        self.lm_head = self.embed if shape.tied else weights["lm_head.weight"]
        self.layers = [self._layer(weights, f"model.layers.{i}.") for i in range(shape.layers)]
        dim = shape.head_dim
        self.inv_freq = 1.0 / (shape.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))

    @staticmethod
    def _layer(weights: dict[str, torch.Tensor], prefix: str) -> Layer:
        attention = [weights[f"{prefix}self_attn.{name}.weight"] for name in ATTENTION]
        gate, up, down = (weights[f"{prefix}mlp.{name}.weight"] for name in FEED_FORWARD)
        return Layer(weights[f"{prefix}input_layernorm.weight"], torch.cat(attention[:3]), attention[3],
                     weights[f"{prefix}post_attention_layernorm.weight"], torch.cat([gate, up]), down)

    def forward(self, ids: torch.Tensor, cache: Cache | None = None, last_only: bool = False
                ) -> tuple[torch.Tensor, Cache]:
        """Logits for `ids` (batch, new positions) after the positions in `cache`, and the cache extended by
        them. `last_only`: the last position's logits alone, all that greedy decoding reads."""
        shape = self.shape
        batch, length = ids.shape
        past = cache[0][0].shape[2] if cache else 0
        cos, sin = self._rotary(past, length)
        # a prompt attends causally; one new token attends to everything before it and needs no mask
        mask = None if length == 1 or past == 0 else torch.ones(length, past + length, dtype=torch.bool).tril(past)
        x = F.embedding(ids, self.embed)
        extended: Cache = []
        q_size, kv_size = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
        for i, layer in enumerate(self.layers):
            q, k, v = F.linear(_rms_norm(x, layer.input_norm, shape.eps), layer.qkv).split([q_size, kv_size, kv_size], -1)
            q = _rotate(q.view(batch, length, shape.heads, shape.head_dim).transpose(1, 2), cos, sin)
            k = _rotate(k.view(batch, length, shape.kv_heads, shape.head_dim).transpose(1, 2), cos, sin)
            v = v.view(batch, length, shape.kv_heads, shape.head_dim).transpose(1, 2)
            if cache:
                k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
            extended.append((k, v))
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None and length > 1,
                                                      enable_gqa=shape.kv_heads != shape.heads)
            x = x + F.linear(attended.transpose(1, 2).reshape(batch, length, q_size), layer.o)
            gate, up = F.linear(_rms_norm(x, layer.post_norm, shape.eps), layer.gate_up).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, layer.down)
        if last_only:
            x = x[:, -1:]
        return F.linear(_rms_norm(x, self.norm, shape.eps), self.lm_head), extended

    def _rotary(self, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(start, start + length, dtype=torch.float32)
        angles = torch.outer(positions, self.inv_freq)
        angles = torch.cat([angles, angles], dim=-1)
        return angles.cos(), angles.sin()


def load_weights(folder: Path) -> tuple[LlamaShape, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    shape = LlamaShape.of(json.loads((folder / "config.json").read_text()))
    weights = {name: tensor.float() for name, tensor in load_file(str(folder / WEIGHTS)).items()}
    return shape, weights


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin
