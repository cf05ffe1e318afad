"""The consilium scored on the grounded question set: does the answer state the gold fact, invent figures,
keep the question's language, cite an excerpt that holds the fact, and abstain when nothing answers?"""
from __future__ import annotations

import re

import numpy as np

from ..answer import language
from ..answer.faithfulness import unsupported_numbers
from .grounded_set import GroundedQuestion, contains_fact, token_f1

# name -> (adapters, rag, generate); names are MLflow metric prefixes, so no "+"
CONFIGURATIONS = {
    "base": ("none", False, True),
    "base_rag": ("none", True, True),
    "adapters": ("auto", False, True),
    "adapters_rag": ("auto", True, True),
    "evidence_only": ("none", True, False),
}
METRICS = ("fact_in_answer", "fact_in_answer_when_retrieved", "token_f1", "unsupported_number", "in_language",
           "citation_holds_fact", "citation_holds_fact_when_retrieved", "abstained_unanswerable", "abstained_answerable")
# what a language check reads: the answer without the coach's quoted sentences (they stay in their own
# language) and without [n] markers
_QUOTED = re.compile(r"[“«][^”»]*[”»]|\[\d+\]")


def score_answer(question: GroundedQuestion, answer, fact_retrieved: bool) -> dict:
    """One row: the answer's checks against the question's gold fact (None where a check does not apply)."""
    excerpts = "\n".join(c.text for c in answer.citations)
    own_words = _QUOTED.sub(" ", answer.text)
    row = {"id": question.id, "language": question.language, "question": question.question,
           "gold": question.answer or "", "answer": answer.text, "outcome": answer.outcome,
           # no direct answer: "not written", or the closest passages marked as not the answer
           "abstained": answer.outcome != "direct",
           "fact_retrieved": fact_retrieved,
           "unsupported_number": bool(unsupported_numbers(answer.text, f"{question.question}\n{excerpts}")),
           "in_language": language.written_in(own_words, question.language)}
    if question.answerable:
        row["fact_in_answer"] = contains_fact(answer.text, question.answer)
        row["token_f1"] = token_f1(_short_answer(answer), question.answer)
        row["citation_holds_fact"] = any(contains_fact(answer.citations[n - 1].text, question.answer)
                                         for n in answer.cited_numbers())
    return row


def _short_answer(answer) -> str:
    """What SQuAD's F1 compares with the gold: the first quoted sentence, else the first generated one."""
    if answer.evidence and answer.evidence.quotes:
        return answer.evidence.quotes[0].sentence
    first = re.split(r"(?<=[.!?…])\s", answer.generated or answer.text, maxsplit=1)
    return first[0]


def summarise(rows: list[dict]) -> dict[str, float | None]:
    """Shares over the rows of one configuration, overall and per question language."""
    answerable = [r for r in rows if "fact_in_answer" in r]
    unanswerable = [r for r in rows if "fact_in_answer" not in r]
    out: dict[str, float | None] = {
        "fact_in_answer": _mean(r["fact_in_answer"] for r in answerable),
        "fact_in_answer_when_retrieved": _mean(r["fact_in_answer"] for r in answerable if r["fact_retrieved"]),
        "token_f1": _mean(r["token_f1"] for r in answerable),
        "unsupported_number": _mean(r["unsupported_number"] for r in rows),
        "in_language": _mean(r["in_language"] for r in rows),
        "citation_holds_fact": _mean(r["citation_holds_fact"] for r in answerable),
        "citation_holds_fact_when_retrieved": _mean(r["citation_holds_fact"] for r in answerable if r["fact_retrieved"]),
        "abstained_unanswerable": _mean(r["abstained"] for r in unanswerable),
        "abstained_answerable": _mean(r["abstained"] for r in answerable),
    }
    for code in sorted({r["language"] for r in rows}):
        mine = [r for r in answerable if r["language"] == code]
        out[f"fact_in_answer_when_retrieved_{code}"] = _mean(r["fact_in_answer"] for r in mine if r["fact_retrieved"])
        out[f"in_language_{code}"] = _mean(r["in_language"] for r in rows if r["language"] == code)
        out[f"abstained_unanswerable_{code}"] = _mean(r["abstained"] for r in unanswerable if r["language"] == code)
    return out


def _mean(values) -> float | None:
    values = [float(v) for v in values]
    return float(np.mean(values)) if values else None
