"""Sentences of an excerpt or of a generated answer, kept verbatim so that a quote is the coach's own text."""
from __future__ import annotations

import re

from ...ingest.worldview import TURN_LABELS

# a sentence ends at . ! ? … followed by space and an upper-case letter, digit or quote; a line break always
# ends one (log rows, list items, subtitle cues). "3.5 km" and "т.е. так" stay whole.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"»”)]?\s+(?=[\"«“(A-ZА-ЯЁ0-9])|\n+")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|approx|т\.е|т\.д|т\.п|др)\.)$", re.IGNORECASE)
# a worldview example reads "Question: ... Answer: ..."; only the coach's answers are his statements
_TURN = re.compile(rf"\b({'|'.join(TURN_LABELS.values())}):\s*")
_ANSWER = TURN_LABELS["assistant"]
# shorter pieces are headings, bullets or cue numbers, not statements
MIN_SENTENCE_CHARS = 12


def split_sentences(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start:match.start()].rstrip()
        if match.group(0).strip("\n") and _ABBREVIATION.search(candidate):
            continue  # "approx. 5 km" does not end a sentence
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if len(p) >= MIN_SENTENCE_CHARS]


def statements(text: str) -> list[str]:
    """The sentences of an excerpt that state something: in a worldview example, those of the answers."""
    parts = _TURN.split(text)
    if len(parts) == 1:
        return split_sentences(text)
    # parts: [before the first label, label, turn, label, turn, ...]
    return [s for label, turn in zip(parts[1::2], parts[2::2]) if label == _ANSWER for s in split_sentences(turn)]
