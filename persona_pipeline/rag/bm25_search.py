"""BM25 top-k from the query terms' postings alone.

bm25s scores every document of the index for each query (an array as long as the corpus) and selects
the top k from all of it; at a million chunks that selection alone took about 100 ms a query, most of
the hybrid query's time. The scores are the same sums of precomputed per-term weights (bm25s's eager
index, one column per term): here only the postings of the query's terms are added up, and the top k is
chosen among the documents they touch, so a query costs what its terms' postings hold, not the corpus.
"""
from __future__ import annotations

import bm25s
import numpy as np


def top_k(bm25: bm25s.BM25, tokens: list[str], k: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the k best-scoring rows, best first, only rows with a positive score. Like
    bm25s, a term the query repeats counts once per repeat and a term outside the vocabulary adds
    nothing; `weights` (one per row) multiply the scores, as bm25s's `weight_mask` does."""
    columns = [bm25.vocab_dict[t] for t in tokens if t in bm25.vocab_dict]
    if not columns or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    pointers, rows, values = (np.asarray(bm25.scores[name]) for name in ("indptr", "indices", "data"))
    touched = np.concatenate([rows[pointers[c]:pointers[c + 1]] for c in columns])
    added = np.concatenate([values[pointers[c]:pointers[c + 1]] for c in columns])
    sums = np.bincount(touched, weights=added)
    candidates = np.flatnonzero(sums)
    scores = sums[candidates]
    if weights is not None:
        scores = scores * weights[candidates]
        keep = scores > 0
        candidates, scores = candidates[keep], scores[keep]
    if len(candidates) > k:
        best = np.argpartition(-scores, k - 1)[:k]
        candidates, scores = candidates[best], scores[best]
    order = np.argsort(-scores, kind="stable")
    return candidates[order], scores[order].astype(np.float32)
