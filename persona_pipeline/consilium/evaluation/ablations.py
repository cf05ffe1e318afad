"""The consilium evaluated side by side: base / base+RAG / adapters / adapters+RAG / the evidence alone, on
held-out worldview prompts (similarity to the reference, its loss), golden retrieval questions (the expected
source retrieved and cited) and the grounded question set (grounded_eval.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...rag.evaluation import GoldenQuestion
from .grounded_eval import CONFIGURATIONS, score_answer, summarise
from .grounded_set import GroundedQuestion, contains_fact


# the reading bar (reading_bar.py) judges what the adapters write from their weights alone
READING_CONFIGURATION = "adapters"


@dataclass
class HeldoutPrompt:
    question: str
    reference: str
    sport: bool


def evaluate_consilium(consilium, embedder, golden: list[GoldenQuestion], heldout: list[HeldoutPrompt],
                       grounded: list[GroundedQuestion], max_new_tokens: int, log=lambda message: None,
                       progress=lambda done, total: None, configurations: dict = CONFIGURATIONS) -> dict:
    """Metrics per configuration, the grounded set's summary per configuration, and the rows of both tables."""
    rows, grounded_rows, metrics, summaries, readings = [], [], {}, {}, []
    retrieved = {q.id: q.answerable and any(contains_fact(h.chunk.text, q.answer)
                                            for h in consilium.retriever.search(q.question, k=consilium.config.top_k))
                 for q in grounded}
    total, done = len(configurations) * (len(heldout) + len(golden) + len(grounded)), 0
    for name, (adapters, rag, generate) in configurations.items():
        log(f"consilium eval: {name}")

        def ask(question: str):
            nonlocal done
            # every configuration generates, to measure it; whether a reading is shown is the reading bar's call
            answer = consilium.ask(question, adapters=adapters, rag=rag, generate=generate, max_new_tokens=max_new_tokens,
                                   readings=True)
            done += 1
            progress(done, total)
            return answer

        similarity, losses, cited_ok, retrieved_ok = [], [], [], []
        for item in heldout:
            answer = ask(item.question)
            similarity.append(_cosine(embedder, answer.text, item.reference))
            if name == READING_CONFIGURATION:
                readings.append(answer.generated)
            if generate:
                losses.append(consilium.reference_loss(item.question, item.reference, adapters=adapters, rag=rag))
            rows.append(_row(name, "held-out", item.question, answer, item.reference, similarity[-1]))
        for question in golden:
            answer = ask(question.question)
            if rag:
                retrieved_ok.append(any(c.source == question.source for c in answer.citations))
                cited = [c for c in answer.citations if c.number in answer.cited_numbers()]
                cited_ok.append(bool(cited) and all(c.source == question.source for c in cited))
            rows.append(_row(name, "golden", question.question, answer, question.source, None))
        mine = [{"configuration": name, **score_answer(q, ask(q.question), retrieved[q.id])} for q in grounded]
        grounded_rows += mine
        summaries[name] = summarise(mine)
        metrics[name] = {
            "answer_similarity": _mean(similarity), "reference_loss": _mean(losses),
            "expected_source_retrieved": _mean(retrieved_ok), "citations_in_answer_correct": _mean(cited_ok),
        }
    routes = [(consilium.router.route(item.question).sport, item.sport) for item in heldout]
    routes += [(consilium.router.route(q.question).sport, True) for q in golden]
    routing_accuracy = float(np.mean([got == want for got, want in routes])) if routes else None
    return {"metrics": metrics, "grounded": summaries, "routing_accuracy": routing_accuracy, "rows": rows,
            "grounded_rows": grounded_rows, "readings": readings}


def _mean(values: list) -> float | None:
    return float(np.mean(values)) if values else None


def _row(configuration: str, kind: str, question: str, answer, expected: str, similarity: float | None) -> dict:
    return {"configuration": configuration, "set": kind, "question": question, "answer": answer.text,
            "adapters": "; ".join(answer.adapters) or "none",
            "citations": "; ".join(f"[{c.number}] {c.source} ({c.location})" for c in answer.sources),
            "expected": expected, "similarity": similarity}


def _cosine(embedder, a: str, b: str) -> float:
    if not a.strip():
        return 0.0
    vectors = embedder.embed([a, b])
    return float(vectors[0] @ vectors[1])
