"""A few texts embedded with transformers alone, for models laid out as Transformer -> mean pooling.

Importing sentence-transformers costs about two seconds (it pulls in scikit-learn), more than embedding
a question or the chunks of one added file takes. For that layout its vectors are the mean of the token
embeddings over the attention mask, which this computes directly on the same weights and tokenizer; the
tests check that the two agree. Large inputs still go through sentence-transformers.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np

SMALL_BATCH = 32  # texts; above this the sentence-transformers path with sorted batches and bf16 pays


def pooling_config(folder: Path) -> dict | None:
    """The pooling config of a Transformer -> Pooling (-> Normalize) model with a single pooling mode;
    None for any other layout (a Dense layer, concatenated poolings) or a model that is not a local folder."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        pooling = json.loads((folder / modules[1].get("path", "") / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError, IndexError):
        return None
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    return pooling if len(modes) == 1 and pooling.get("word_embedding_dimension") else None


class SmallBatchEncoder:
    def __init__(self, folder: Path, window: int):
        from tokenizers import Tokenizer
        from transformers import AutoModel

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        padding = self.tokenizer.padding or {}  # the file's own pad token, but to the longest text, not fixed
        self.tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
        self.tokenizer.enable_truncation(max_length=window)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.takes_token_types = "token_type_ids" in inspect.signature(self.model.forward).parameters

    @staticmethod
    def handles(folder: Path) -> bool:
        config = pooling_config(folder)
        return bool(config and config.get("pooling_mode_mean_tokens")) and (folder / "tokenizer.json").exists()

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        encoded = self.tokenizer.encode_batch(texts)
        inputs = {"input_ids": torch.tensor([e.ids for e in encoded]),
                  "attention_mask": torch.tensor([e.attention_mask for e in encoded])}
        if self.takes_token_types:
            inputs["token_type_ids"] = torch.tensor([e.type_ids for e in encoded])
        with torch.inference_mode():
            hidden = self.model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=1).numpy().astype(np.float32)
