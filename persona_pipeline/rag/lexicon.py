"""BM25 over the index's segments, scored with the statistics of the whole index.

Each segment stores raw postings (term -> rows and term frequencies) and its rows' token counts, not
precomputed scores: a score depends on every segment's document frequencies and average length, so
precomputed ones (bm25s's eager index) would go stale the moment a segment is added or a row deleted.
The statistics are summed over the live rows of all segments when the index is opened, so a segmented
index scores exactly as one freshly built from the same chunks would (rows with equal scores come in
segment order, so ties may rank otherwise). The formula is Lucene's BM25 with bm25s's defaults, the one
the index used before it was segmented.

A query adds up only its terms' postings (an array as long as the highest row they touch) and sorts the
top k out of the rows at or above a floor read from every SAMPLE_STRIDE-th row, not out of every row:
bm25s scores and selects over the whole corpus, about 100 ms a query at a million chunks
(bench/query_latency.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

POSTINGS_FILE, TERMS_FILE = "postings.npz", "terms.json"
K1, B = 1.5, 0.75  # Lucene's and bm25s's defaults
# the top k's floor is read from every this-many-th row: larger, a cheaper floor but more rows above it
SAMPLE_STRIDE = 64


def write_postings(folder: Path, token_lists: list[list[str]]) -> None:
    """One segment's postings: rows are the token lists' positions."""
    vocabulary: dict[str, int] = {}
    term_ids, lengths = [], np.zeros(len(token_lists), dtype=np.int32)
    for row, tokens in enumerate(token_lists):
        term_ids.extend(vocabulary.setdefault(token, len(vocabulary)) for token in tokens)
        lengths[row] = len(tokens)
    rows = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
    # one number per (term, row): sorting them groups the postings by term, rows ascending
    stride = max(len(token_lists), 1)
    pairs, tf = np.unique(np.asarray(term_ids, dtype=np.int64) * stride + rows, return_counts=True)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pairs // stride, minlength=len(vocabulary)))])
    np.savez(folder / POSTINGS_FILE, indptr=indptr.astype(np.int64), rows=(pairs % stride).astype(np.int32),
             tf=tf.astype(np.float32), lengths=lengths)
    (folder / TERMS_FILE).write_text(json.dumps(list(vocabulary), ensure_ascii=False), encoding="utf-8")


@dataclass
class Postings:
    terms: dict[str, int]
    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    lengths: np.ndarray

    @classmethod
    def read(cls, folder: Path) -> "Postings":
        terms = json.loads((folder / TERMS_FILE).read_text(encoding="utf-8"))
        with np.load(folder / POSTINGS_FILE) as arrays:
            return cls({term: i for i, term in enumerate(terms)}, arrays["indptr"], arrays["rows"], arrays["tf"],
                       arrays["lengths"])

    def span(self, term: str) -> tuple[int, int]:
        """Where the term's postings are in `rows` and `tf`."""
        i = self.terms[term]
        return int(self.indptr[i]), int(self.indptr[i + 1])


class Lexicon:
    """The BM25 side of one index version: its segments' postings, which of their rows are live, and
    the vector id of each row."""

    def __init__(self, segments: list[Postings], live: list[np.ndarray], ids: list[np.ndarray],
                 kinds: list[np.ndarray]):
        self.segments, self.live, self.ids, self.kinds = segments, live, ids, kinds
        self.documents = int(sum(mask.sum() for mask in live))
        self.frequencies = self._live_frequencies()
        tokens = sum(float(p.lengths[mask].sum()) for p, mask in zip(segments, live))
        average = tokens / self.documents if self.documents else 1.0
        # each posting's term-frequency part, fixed once the statistics are: a query multiplies it by the idf
        self._tf_parts = [_tf_part(p, average) for p in segments]
        self._filters: dict[str | None, list[np.ndarray | None]] = {}

    def _live_frequencies(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for postings, live in zip(self.segments, self.live):
            per_term = np.diff(postings.indptr)
            if not live.all():
                dead_terms = np.repeat(np.arange(len(per_term)), per_term)[~live[postings.rows]]
                per_term = per_term - np.bincount(dead_terms, minlength=len(per_term))
            for term, i in postings.terms.items():
                if per_term[i]:
                    counts[term] = counts.get(term, 0) + int(per_term[i])
        return counts

    def count(self) -> int:
        return self.documents

    def idf(self, term: str) -> float:
        df = self.frequencies.get(term, 0)
        return float(np.log(1 + (self.documents - df + 0.5) / (df + 0.5)))

    def top_k(self, tokens: list[str], k: int, kind: str | None = None) -> list[tuple[int, float]]:
        """(vector id, score) of the k best live rows, best first, only rows with a positive score and of
        `kind` when given. A term the query repeats counts once per repeat, as in bm25s."""
        terms = [t for t in tokens if t in self.frequencies]
        if not terms or k <= 0:
            return []
        found: list[tuple[float, int]] = []
        for s, postings in enumerate(self.segments):
            mask = self._filter(kind)[s]
            rows, scores = self._segment_top_k(postings, self._tf_parts[s], mask, terms, k)
            found.extend(zip(scores.tolist(), self.ids[s][rows].tolist()))
        found.sort(key=lambda item: -item[0])
        return [(vid, score) for score, vid in found[:k]]

    def _segment_top_k(self, postings: Postings, tf_part: np.ndarray, mask: np.ndarray | None, terms: list[str],
                       k: int) -> tuple[np.ndarray, np.ndarray]:
        touched, added = [], []
        for term in terms:
            if term in postings.terms:
                start, end = postings.span(term)
                touched.append(postings.rows[start:end])
                added.append(self.idf(term) * tf_part[start:end])
        if not touched:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        sums = np.bincount(np.concatenate(touched), weights=np.concatenate(added))
        if mask is not None:
            sums *= mask[:len(sums)]
        candidates = np.flatnonzero(sums >= _floor(sums, k))
        scores = sums[candidates]
        if len(candidates) > k:
            best = np.argpartition(-scores, k - 1)[:k]
            candidates, scores = candidates[best], scores[best]
        order = np.argsort(-scores, kind="stable")
        return candidates[order], scores[order]

    def _filter(self, kind: str | None) -> list[np.ndarray | None]:
        """Per segment, the rows a query may return; None where that is every row (a pass over a million
        rows saved)."""
        if kind not in self._filters:
            masks = [live if kind is None else live & (kinds == kind) for live, kinds in zip(self.live, self.kinds)]
            self._filters[kind] = [None if mask.all() else mask for mask in masks]
        return self._filters[kind]


def _tf_part(postings: Postings, average_length: float) -> np.ndarray:
    norms = K1 * (1 - B + B * postings.lengths / max(average_length, 1e-9))
    return (postings.tf / (postings.tf + norms[postings.rows])).astype(np.float32)


def _floor(sums: np.ndarray, k: int) -> float:
    """A score every row of the top k reaches: the k-th best of every SAMPLE_STRIDE-th row is at most the
    k-th best of all rows. Never below the smallest positive score, so rows the query does not touch and
    dead rows (their sums are zeroed) are never returned."""
    sample = sums[::SAMPLE_STRIDE]
    floor = np.partition(sample, len(sample) - k)[len(sample) - k] if len(sample) > k else 0.0
    return max(float(floor), np.finfo(np.float32).tiny)
