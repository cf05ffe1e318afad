"""BM25 top-k from the query terms' postings alone.

bm25s scores every document of the index for each query (an array as long as the corpus) and selects
the top k from all of it; at a million chunks that selection alone took about 100 ms a query, most of
the hybrid query's time. The scores are the same sums of precomputed per-term weights (bm25s's eager
index, one column per term): here only the postings of the query's terms are added up (vectorised, in an
array as long as the highest row they touch), and the top k is sorted out of the rows at or above a
floor, about SAMPLE_STRIDE times k of them, instead of out of the whole corpus: 2.6 ms at a million
chunks (bench/query_latency.py). Sums are float64 where bm25s adds in float32, so rows whose scores tie
to float32 precision may come in another order.
"""
from __future__ import annotations

import bm25s
import numpy as np

# the top k's floor is read from every this-many-th row: larger, a cheaper floor but more rows above it
SAMPLE_STRIDE = 64


def top_k(bm25: bm25s.BM25, tokens: list[str], k: int,
          weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the k best-scoring rows, best first, only rows with a positive score. Like
    bm25s, a term the query repeats counts once per repeat and a term outside the vocabulary adds
    nothing; `weights` (one per row) multiply the scores, as bm25s's `weight_mask` does."""
    if getattr(bm25, "nonoccurrence_array", None) is not None:
        raise ValueError(f"BM25 method {bm25.method!r} scores rows a term is absent from; only the postings "
                         "of the default 'lucene' method are summed here")
    if weights is not None and len(weights) != bm25.scores["num_docs"]:
        raise ValueError(f"{len(weights)} row weights for {bm25.scores['num_docs']} rows")
    columns = [bm25.vocab_dict[t] for t in tokens if t in bm25.vocab_dict]
    if not columns or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    pointers, rows, values = (np.asarray(bm25.scores[name]) for name in ("indptr", "indices", "data"))
    touched = np.concatenate([rows[pointers[c]:pointers[c + 1]] for c in columns])
    added = np.concatenate([values[pointers[c]:pointers[c + 1]] for c in columns])
    sums = np.bincount(touched, weights=added)
    if weights is not None:
        sums *= weights[:len(sums)]
    candidates = np.flatnonzero(sums >= _floor(sums, k))
    scores = sums[candidates]
    if len(candidates) > k:
        best = np.argpartition(-scores, k - 1)[:k]
        candidates, scores = candidates[best], scores[best]
    order = np.argsort(-scores, kind="stable")
    return candidates[order], scores[order].astype(np.float32)


def _floor(sums: np.ndarray, k: int) -> float:
    """A score every row of the top k reaches: the k-th best of every SAMPLE_STRIDE-th row is at most the
    k-th best of all rows, so the top k is sorted out of the rows at or above it (about SAMPLE_STRIDE times
    k) rather than out of every row the query touches. Never below the smallest positive score, so rows the
    query does not touch are never returned."""
    sample = sums[::SAMPLE_STRIDE]
    floor = np.partition(sample, len(sample) - k)[len(sample) - k] if len(sample) > k else 0.0
    return max(float(floor), np.finfo(np.float32).tiny)
