"""Vectors keyed by the hash of the text embedded: a text that was embedded once is never embedded again."""
from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .embedding import Embedder

log = logging.getLogger(__name__)

SQLITE_VARIABLES = 500  # keys per SELECT ... IN (...), under SQLite's limit on bound variables


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
            for start in range(0, len(keys), SQLITE_VARIABLES):
                part = keys[start:start + SQLITE_VARIABLES]
                rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                           [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])


def embed_with_cache(embedder: Embedder, cache: EmbeddingCache, texts: list[str],
                     progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
    """Vectors for `texts` in order, and how many had to be computed (the model loads only when some must)."""
    keys = [text_key(t) for t in texts]
    known = cache.get_many(keys)
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        by_key = dict(zip(keys, texts))
        started = time.perf_counter()
        fresh = embedder.embed([by_key[k] for k in missing], progress)
        cache.put_many(dict(zip(missing, fresh)))
        known.update(zip(missing, fresh))
        log.info("embedded %d new texts in %.1f s (%s)", len(missing), time.perf_counter() - started, embedder.precision)
    matrix = np.vstack([known[k] for k in keys]) if keys else np.zeros((0, cache.dim), dtype=np.float32)
    return matrix.astype(np.float32), len(missing)
