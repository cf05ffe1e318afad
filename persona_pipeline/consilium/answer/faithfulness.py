"""The faithfulness guard: a generated sentence may only state figures and names the excerpts hold.

A 135M model paraphrases loosely and invents numbers with confidence ("the taper lasts 8 hours"). The
coach's own sentences are quoted verbatim anyway, so a generated sentence that carries a number, date,
distance, pace or name found in no excerpt (nor in the question) adds risk and no evidence: it is dropped,
and the answer's JSON says which sentence and which token caused it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ...rag.lexical import tokenize
from .language import SCRIPTS

# digits with their separators: 17, 4:05, 3.5, 2026-04-06, 10×1
_NUMBER = re.compile(r"\d+(?:[.,:/\-–×x]\d+)*")
_CITATION = re.compile(r"\[(\d+)\]")
# a capitalised word inside a sentence: a name, a place, a race
_NAME = re.compile(r"(?<![.!?…:]\s)(?<!^)\b([A-ZА-ЯЁ][a-zа-яё]{2,})\b")
# capitalised words that are not claims: the speaker, words capitalised by convention
_NOT_NAMES = frozenset(tokenize("I Im Facts Next What Mon Tue Wed Thu Fri Sat Sun"))


@dataclass
class DroppedSentence:
    text: str
    reason: str

    def to_json(self) -> dict:
        return {"text": self.text, "reason": self.reason}


def numbers_in(text: str) -> set[str]:
    return {_normalise_number(n) for n in _NUMBER.findall(text)}


def _normalise_number(number: str) -> str:
    return number.replace(",", ".").replace("–", "-").replace("x", "×")


def unsupported_numbers(text: str, support: str) -> list[str]:
    """Numbers in `text` that appear nowhere in `support`; [n] citation markers are not claims."""
    known = numbers_in(support)
    return sorted(n for n in numbers_in(_CITATION.sub(" ", text)) if n not in known)


def unsupported_names(text: str, support: str) -> list[str]:
    known = set(tokenize(support))
    names = {m.group(1) for m in _NAME.finditer(text)}
    return sorted(n for n in names if tokenize(n) and tokenize(n)[0] not in known and tokenize(n)[0] not in _NOT_NAMES)


def unfaithful(sentence: str, support: str, scripts: list[str], earlier: list[str], excerpts: int) -> str | None:
    """Why a generated sentence must not reach the user, or None: it repeats an earlier one (or the question,
    or a quote), it cites an excerpt that does not exist, it is written in a script the base model does not
    write (a garbled Cyrillic line from an English-only model), or it states a figure or name that
    `support` (the excerpts and the question) does not hold."""
    words = " ".join(tokenize(_CITATION.sub(" ", sentence)))
    if not words or any(words in " ".join(tokenize(e)) for e in earlier):
        return "repeats the question, a quote or an earlier sentence"
    if cited := [n for n in _CITATION.findall(sentence) if not 1 <= int(n) <= excerpts]:
        return f"cites [{cited[0]}], which is not one of the {excerpts} excerpts"
    sentence = _CITATION.sub(" ", sentence)
    allowed = [SCRIPTS[code] for code in scripts if code in SCRIPTS]
    foreign = [c for c in re.findall(r"[^\W\d_]", sentence) if allowed and not any(p.match(c) for p in allowed)]
    if foreign:
        return f"written in a script the base model does not write ('{foreign[0]}')"
    if numbers := unsupported_numbers(sentence, support):
        return f"number not in any excerpt: {', '.join(numbers)}"
    if names := unsupported_names(sentence, support):
        return f"name not in any excerpt: {', '.join(names)}"
    return None
