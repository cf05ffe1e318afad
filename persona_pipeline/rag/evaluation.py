"""Retrieval quality on the golden set: recall@k and MRR for dense, BM25 and hybrid side by side."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .retrieval import MODES, Retriever

KS = (1, 3, 5, 10)


@dataclass
class GoldenQuestion:
    id: str
    question: str
    source: str
    location: str | None = None


def load_golden_set(path: Path) -> list[GoldenQuestion]:
    rows = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    questions = []
    for number, row in enumerate(rows, start=1):
        missing = [f for f in ("question", "source") if not row.get(f)]
        if missing:
            raise ValueError(f"{path}: entry {number} ({row.get('id', 'no id')}): missing field(s) {missing}")
        questions.append(GoldenQuestion(str(row.get("id", f"q{number}")), row["question"], row["source"], row.get("location")))
    return questions


def evaluate_retrieval(retriever: Retriever, questions: list[GoldenQuestion]) -> dict:
    """{mode: {"recall@k": .., "mrr": ..}, "per_question": [...]}. A hit is a retrieved chunk from the
    expected source file; MRR uses the rank of the first such chunk within the top 10."""
    depth = max(KS)
    results: dict = {}
    per_question = []
    for mode in MODES:
        ranks = []
        for question in questions:
            hits = retriever.search(question.question, k=depth, mode=mode)
            rank = next((h.rank for h in hits if h.chunk.source == question.source), None)
            ranks.append(rank)
            if mode == "hybrid":
                per_question.append({"id": question.id, "question": question.question, "expected": question.source,
                                     "rank": rank, "top1": hits[0].chunk.source if hits else None})
        n = len(ranks) or 1
        results[mode] = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
        results[mode]["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    results["per_question"] = per_question
    results["questions"] = len(questions)
    return results
