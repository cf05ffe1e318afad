"""Hybrid retrieval: BM25 and dense results fused by weighted reciprocal rank.

RRF is used instead of mixing scores because BM25 scores are unbounded and corpus-dependent while
cosine scores are not; ranks are comparable, scores are not. Each ranking is weighted by how far it
can be trusted in the query's language: the default embedder is English-only, so for a Russian
question its ranking is mostly noise and, fused at full weight, pushes BM25's right answers down.
The weights live in the config (`retrieval.weights`), measured on the golden set.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..rag_config import MODES, RANKINGS, RagConfig, RetrievalConfig, equal_weights
from .chunking import Chunk
from .embedding import Embedder, open_embedder
from .index_store import KnowledgeIndex, load_index
from .lexical import tokenize

_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def query_language(text: str) -> str:
    """'ru' when most of the query's letters are Cyrillic, else 'en'."""
    letters = _LETTER.findall(text)
    cyrillic = sum(1 for ch in letters if _CYRILLIC.match(ch))
    return "ru" if letters and cyrillic * 2 >= len(letters) else "en"


@dataclass
class Hit:
    rank: int
    score: float
    chunk: Chunk
    dense_rank: int | None
    bm25_rank: int | None

    def to_json(self) -> dict:
        return {"rank": self.rank, "score": round(self.score, 6), "source": self.chunk.source,
                "knowledge_type": self.chunk.kind, "location": self.chunk.location_label(),
                "location_fields": self.chunk.location, "title": self.chunk.title,
                "chunk_id": self.chunk.chunk_id, "text": self.chunk.text}


class Retriever:
    def __init__(self, index: KnowledgeIndex, embedder, candidates: int = 50, rrf_k: int = 60,
                 weights: dict[str, dict[str, float]] | None = None):
        if embedder.dim != index.dim:
            raise ValueError(f"index was built with a {index.dim}-dim model ({index.manifest['embedding_model']}) "
                             f"but the embedder gives {embedder.dim} dims: re-run the knowledge assets")
        self.index, self.embedder = index, embedder
        self.candidates, self.rrf_k = candidates, rrf_k
        self.weights = weights or equal_weights()

    @classmethod
    def from_config(cls, index: KnowledgeIndex, embedder, config: RetrievalConfig) -> "Retriever":
        return cls(index, embedder, config.candidates, config.rrf_k, config.fusion_weights)

    def search(self, query: str, k: int = 5, kind: str | None = None, mode: str = "hybrid") -> list[Hit]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if not query.strip():
            raise ValueError("empty query")
        pool = max(self.candidates, k)
        dense = self._dense(query, pool, kind) if mode != "bm25" else []
        lexical = self._bm25(query, pool, kind) if mode != "dense" else []
        if mode == "dense":
            scored = dense
        elif mode == "bm25":
            scored = lexical
        else:
            weight = self.weights[query_language(query)]
            fused: dict[int, float] = {}
            for name, ranking in zip(RANKINGS, (dense, lexical)):
                if not weight[name]:
                    continue  # an untrusted ranking adds nothing, not even its candidates
                for rank, (vid, _) in enumerate(ranking, start=1):
                    fused[vid] = fused.get(vid, 0.0) + weight[name] / (self.rrf_k + rank)
            scored = sorted(fused.items(), key=lambda item: -item[1])
        dense_rank = {vid: r for r, (vid, _) in enumerate(dense, start=1)}
        bm25_rank = {vid: r for r, (vid, _) in enumerate(lexical, start=1)}
        return [Hit(rank, float(score), self.index.chunks[vid], dense_rank.get(vid), bm25_rank.get(vid))
                for rank, (vid, score) in enumerate(scored[:k], start=1)]

    def _dense(self, query: str, pool: int, kind: str | None) -> list[tuple[int, float]]:
        if not self.index.chunks:
            return []
        return self.index.vectors.search(self.embedder.embed_query(query), pool, kind)

    def _bm25(self, query: str, pool: int, kind: str | None) -> list[tuple[int, float]]:
        return self.index.lexicon.top_k(tokenize(query), pool, kind)


def open_retriever(index_dir: Path, config: RagConfig, embedder: Embedder | None = None) -> Retriever:
    """The current index version, searchable as the config says; with the embedding model the index was
    built with unless `embedder` is given. IndexNotFound when there is no index yet."""
    index = load_index(index_dir)
    embedder = embedder or open_embedder(index.manifest["embedding_model"], config.embedding.batch_size)
    return Retriever.from_config(index, embedder, config.retrieval)
