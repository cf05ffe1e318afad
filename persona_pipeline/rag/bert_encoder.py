"""BERT's encoder (Devlin et al., 2019) in plain torch, for the embedder's mean-pooling models.

Importing transformers' BERT costs about 1.5 s here, most of it modules the forward pass never uses
(`torch.distributed`, kernels, quantisation back-ends), paid by every build, every re-index that embeds
something and every `persona ask` that embeds its question. The forward pass is small: embeddings, then
layers of self-attention and a feed-forward block, each followed by a residual and layer norm. Query, key
and value are one matrix multiplication here instead of three. The tests hold its vectors to
sentence-transformers' own on the same weights. Only the configurations it implements are given to it
(`MeanPoolingEncoder.handles` in network_encoders.py); any other model goes through sentence-transformers.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.up = nn.Linear(hidden, intermediate)
        self.down = nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, keys_mask: torch.Tensor | None) -> torch.Tensor:
        batch, length, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keys_mask)
        x = self.attention_norm(x + self.attention_out(attended.transpose(1, 2).reshape(batch, length, hidden)))
        return self.out_norm(x + self.down(F.gelu(self.up(x))))


class BertEncoder(nn.Module):
    """The last hidden state of a BertModel (no pooler) for token ids, token types and an attention mask."""

    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        # plain tables, not nn.Embedding: its random init on the meta device imports torch._dynamo (1 s)
        self.word = nn.Parameter(torch.empty(config["vocab_size"], hidden))
        self.position = nn.Parameter(torch.empty(config["max_position_embeddings"], hidden))
        self.token_type = nn.Parameter(torch.empty(config["type_vocab_size"], hidden))
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(BertLayer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
                                    for _ in range(config["num_hidden_layers"]))

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.norm(F.embedding(input_ids, self.word) + F.embedding(positions, self.position)
                      + F.embedding(token_type_ids, self.token_type))
        # a batch of one length (the embedder sorts texts by length) needs no mask, and runs the faster kernel
        keys_mask = None if bool(attention_mask.all()) else attention_mask[:, None, None, :].bool()
        for layer in self.layers:
            x = layer(x, keys_mask)
        return x

    @classmethod
    def load(cls, config: dict, weights: Path) -> BertEncoder:
        """`config` as in a model's config.json; `weights` a safetensors file with transformers' names."""
        from safetensors.torch import load_file

        with torch.device("meta"):  # no random initialisation of weights about to be replaced
            model = cls(config)
        model.load_state_dict(_renamed(load_file(str(weights))), assign=True)
        return model.eval()


def _renamed(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers' parameter names -> this module's; q, k and v stacked into one matrix."""
    weights = {name.removeprefix("bert."): tensor for name, tensor in weights.items()}
    out = {"word": weights["embeddings.word_embeddings.weight"],
           "position": weights["embeddings.position_embeddings.weight"],
           "token_type": weights["embeddings.token_type_embeddings.weight"],
           "norm.weight": weights["embeddings.LayerNorm.weight"], "norm.bias": weights["embeddings.LayerNorm.bias"]}
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in weights:
        source, target = f"encoder.layer.{layer}.", f"layers.{layer}."
        for part in ("weight", "bias"):
            qkv = [weights[f"{source}attention.self.{p}.{part}"] for p in ("query", "key", "value")]
            out[target + "qkv." + part] = torch.cat(qkv)
            out[target + "attention_out." + part] = weights[f"{source}attention.output.dense.{part}"]
            out[target + "attention_norm." + part] = weights[f"{source}attention.output.LayerNorm.{part}"]
            out[target + "up." + part] = weights[f"{source}intermediate.dense.{part}"]
            out[target + "down." + part] = weights[f"{source}output.dense.{part}"]
            out[target + "out_norm." + part] = weights[f"{source}output.LayerNorm.{part}"]
        layer += 1
    return out
