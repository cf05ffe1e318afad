"""The consilium evaluated side by side: base / base+RAG / adapters / adapters+RAG."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rag.evaluation import GoldenQuestion

CONFIGURATIONS = {  # name (also an MLflow metric prefix, so no "+") -> (adapters, rag)
    "base": ("none", False),
    "base_rag": ("none", True),
    "adapters": ("auto", False),
    "adapters_rag": ("auto", True),
}


@dataclass
class HeldoutPrompt:
    question: str
    reference: str
    sport: bool


def evaluate_consilium(consilium, embedder, golden: list[GoldenQuestion], heldout: list[HeldoutPrompt],
                       max_new_tokens: int, log=lambda message: None, progress=lambda done, total: None) -> dict:
    """Metrics per configuration and one row per (question, configuration) for the table."""
    rows, metrics = [], {}
    total = len(CONFIGURATIONS) * (len(heldout) + len(golden))
    for name, (adapters, rag) in CONFIGURATIONS.items():
        log(f"consilium eval: {name}")
        similarity, losses, cited_ok, retrieved_ok = [], [], [], []
        for item in heldout:
            answer = consilium.ask(item.question, adapters=adapters, rag=rag, max_new_tokens=max_new_tokens)
            similarity.append(_cosine(embedder, answer.text, item.reference))
            losses.append(consilium.reference_loss(item.question, item.reference, adapters=adapters, rag=rag))
            rows.append(_row(name, "held-out", item.question, answer, item.reference, similarity[-1]))
            progress(len(rows), total)
        for question in golden:
            answer = consilium.ask(question.question, adapters=adapters, rag=rag, max_new_tokens=max_new_tokens)
            if rag:
                retrieved_ok.append(any(c.source == question.source for c in answer.citations))
                cited = [c for c in answer.citations if c.number in answer.cited_numbers()]
                cited_ok.append(bool(cited) and all(c.source == question.source for c in cited))
            rows.append(_row(name, "golden", question.question, answer, question.source, None))
            progress(len(rows), total)
        metrics[name] = {
            "answer_similarity": float(np.mean(similarity)) if similarity else None,
            "reference_loss": float(np.mean(losses)) if losses else None,
            "expected_source_retrieved": float(np.mean(retrieved_ok)) if retrieved_ok else None,
            "citations_in_answer_correct": float(np.mean(cited_ok)) if cited_ok else None,
        }
    routes = [(consilium.router.route(item.question).sport, item.sport) for item in heldout]
    routes += [(consilium.router.route(q.question).sport, True) for q in golden]
    routing_accuracy = float(np.mean([got == want for got, want in routes])) if routes else None
    return {"metrics": metrics, "routing_accuracy": routing_accuracy, "rows": rows}


def _row(configuration: str, kind: str, question: str, answer, expected: str, similarity: float | None) -> dict:
    return {"configuration": configuration, "set": kind, "question": question, "answer": answer.text,
            "adapters": "; ".join(answer.adapters) or "none",
            "citations": "; ".join(f"[{c.number}] {c.source} ({c.location})" for c in answer.citations),
            "expected": expected, "similarity": similarity}


def _cosine(embedder, a: str, b: str) -> float:
    if not a.strip():
        return 0.0
    vectors = embedder.embed([a, b])
    return float(vectors[0] @ vectors[1])
