"""Retrieval quality on the golden set: recall@k and MRR for dense, BM25 and hybrid side by side,
over all questions and per question language."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..rag_config import LANGUAGES
from .retrieval import MODES, Retriever, query_language

KS = (1, 3, 5, 10)
SINGLE_MODES = tuple(m for m in MODES if m != "hybrid")


@dataclass
class GoldenQuestion:
    id: str
    question: str
    source: str
    location: str | None = None
    language: str = "en"


def load_golden_set(path: Path) -> list[GoldenQuestion]:
    rows = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    questions = []
    for number, row in enumerate(rows, start=1):
        missing = [f for f in ("question", "source") if not row.get(f)]
        if missing:
            raise ValueError(f"{path}: entry {number} ({row.get('id', 'no id')}): missing field(s) {missing}")
        language = row.get("language") or query_language(row["question"])
        if language not in LANGUAGES:
            raise ValueError(f"{path}: entry {number} ({row.get('id', 'no id')}): language '{language}' is not one of {LANGUAGES}")
        questions.append(GoldenQuestion(str(row.get("id", f"q{number}")), row["question"], row["source"],
                                        row.get("location"), language))
    return questions


def evaluate_retrieval(retriever: Retriever, questions: list[GoldenQuestion]) -> dict:
    """{mode: {"recall@k": .., "mrr": ..}, "by_language": {lang: {"questions": n, mode: {...}}},
    "per_question": [...]}. A hit is a retrieved chunk from the expected source file; MRR uses the
    rank of the first such chunk within the top 10."""
    depth = max(KS)
    ranks: dict[str, list[int | None]] = {}
    per_question = []
    for mode in MODES:
        ranks[mode] = []
        for question in questions:
            hits = retriever.search(question.question, k=depth, mode=mode)
            rank = next((h.rank for h in hits if h.chunk.source == question.source), None)
            ranks[mode].append(rank)
            if mode == "hybrid":
                per_question.append({"id": question.id, "question": question.question, "language": question.language,
                                     "expected": question.source, "rank": rank, "top1": hits[0].chunk.source if hits else None})
    results: dict = {mode: _scores(ranks[mode]) for mode in MODES}
    results["by_language"] = {}
    for language in LANGUAGES:
        picked = [i for i, q in enumerate(questions) if q.language == language]
        if picked:
            results["by_language"][language] = {"questions": len(picked),
                                                **{mode: _scores([ranks[mode][i] for i in picked]) for mode in MODES}}
    results["per_question"] = per_question
    results["questions"] = len(questions)
    return results


def hybrid_shortfalls(results: dict) -> list[str]:
    """Languages where hybrid recall@5 is below the best single ranking's, said as one line each."""
    out = []
    for language, scores in results["by_language"].items():
        best = max(SINGLE_MODES, key=lambda m: scores[m]["recall@5"])
        if scores["hybrid"]["recall@5"] < scores[best]["recall@5"]:
            out.append(f"{language}: hybrid recall@5 {scores['hybrid']['recall@5']:.3f} < {best} {scores[best]['recall@5']:.3f}")
    return out


def _scores(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    scores = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    scores["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    return scores
