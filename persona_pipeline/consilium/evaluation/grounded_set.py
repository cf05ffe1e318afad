"""Question sets with short gold facts (eval/grounded_questions.yaml, eval/dev_questions.yaml) and the
checks an answer is scored by: does it contain the fact, SQuAD-style token F1, does it cite an excerpt
that holds the fact."""
from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..answer.language import detect

# "17 days" must be found in "17 days," and "Ёлка" in "елка"; dashes and multiplication signs are written
# several ways in the coach's texts
_FOLD = str.maketrans({"ё": "е", "–": "-", "—": "-", "×": "x", "\u00a0": " "})
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}«»“”„…]")


@dataclass(frozen=True)
class GroundedQuestion:
    id: str
    language: str
    question: str
    answer: str | None         # None: the materials do not answer it
    source: str | None = None
    cross_language: bool = False

    @property
    def answerable(self) -> bool:
        return self.answer is not None


def load_grounded_set(path: Path) -> list[GroundedQuestion]:
    items = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    return [GroundedQuestion(str(i["id"]), i.get("language") or detect(i["question"]), i["question"],
                             None if i.get("unanswerable") or i.get("answer") is None else str(i["answer"]),
                             i.get("source"), bool(i.get("cross_language"))) for i in items]


def spread(questions: list[GroundedQuestion], count: int) -> list[GroundedQuestion]:
    """`count` questions taken evenly across the set (whose languages and unanswerable items are grouped),
    so that a short run still sees both languages and some unanswerable questions; 0 means all."""
    if not count or count >= len(questions):
        return questions
    step = len(questions) / count
    return [questions[int(i * step)] for i in range(count)]


def normalise(text: str) -> str:
    return " ".join(text.lower().translate(_FOLD).split())


def contains_fact(text: str, fact: str) -> bool:
    return normalise(fact) in normalise(text)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 (punctuation dropped, lower-cased), without its English-only article removal."""
    predicted = _PUNCTUATION.sub(" ", normalise(prediction)).split()
    wanted = _PUNCTUATION.sub(" ", normalise(gold)).split()
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)
