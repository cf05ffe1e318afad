"""The two ways the embedder runs its network; each turns a batch of texts into normalised fp32 vectors.

- `MeanPoolingEncoder`: torch and tokenizers alone, for a local BERT laid out as Transformer -> mean pooling
  (-> Normalize), such as the packaged MiniLM. Importing sentence-transformers and transformers' BERT costs
  about 3 s here, a quarter of building the sample corpus and more than embedding a question takes. For
  this layout the vectors are the mean of the token embeddings over the attention mask, computed here with
  bert_encoder.py on the same weights and tokenizer (the tests check them against sentence-transformers');
  the mean is taken in fp32 even when the network runs in bf16.
- `SentenceTransformerEncoder`: sentence-transformers, for any other model.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

WEIGHTS = "model.safetensors"


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


def _bert_config(folder: Path) -> dict | None:
    """The model's config when bert_encoder.py implements it: BERT with exact GELU and absolute positions."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    supported = (isinstance(config, dict) and config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
                 and config.get("position_embedding_type", "absolute") == "absolute")
    return config if supported else None


class MeanPoolingEncoder:
    def __init__(self, folder: Path, window: int):
        from tokenizers import Tokenizer

        from .bert_encoder import BertEncoder

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        padding = self.tokenizer.padding or {}  # the file's own pad token, but to the longest text, not fixed
        self.tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
        self.tokenizer.enable_truncation(max_length=window)
        self.model = BertEncoder.load(_bert_config(folder), folder / WEIGHTS)

    @staticmethod
    def handles(folder: Path) -> bool:
        pooling = pooling_config(folder)
        return bool(pooling and pooling.get("pooling_mode_mean_tokens") and _bert_config(folder)
                    and (folder / "tokenizer.json").exists() and (folder / WEIGHTS).exists())

    def in_dtype(self, dtype) -> MeanPoolingEncoder:
        """A copy whose network holds its weights in `dtype`; the tokenizer is shared."""
        twin = copy.copy(self)
        twin.model = copy.deepcopy(self.model).to(dtype)
        return twin

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        encoded = self.tokenizer.encode_batch(texts)
        attention_mask = torch.tensor([e.attention_mask for e in encoded])
        with torch.inference_mode():
            hidden = self.model(torch.tensor([e.ids for e in encoded]), torch.tensor([e.type_ids for e in encoded]),
                                attention_mask).float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=1).numpy()


class SentenceTransformerEncoder:
    def __init__(self, model):
        self.model = model

    def in_dtype(self, dtype) -> SentenceTransformerEncoder:
        return SentenceTransformerEncoder(copy.deepcopy(self.model).to(dtype))

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
