"""Sentences of an excerpt or of a generated answer, kept verbatim so that a quote is the coach's own text."""
from __future__ import annotations

import re
from typing import NamedTuple

from ...ingest.text import HEADING_TRAIL, MD_HEADING, nested
from ...ingest.worldview import TURN_LABELS

# a sentence ends at . ! ? … followed by space and an upper-case letter, digit or quote; a line break always
# ends one (log rows, list items, subtitle cues) unless it only wraps prose (unwrap). "3.5 km" and "т.е.
# так" stay whole.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"»”)]?\s+(?=[\"«“(A-ZА-ЯЁ0-9])|\n+")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|approx|т\.е|т\.д|т\.п|др)\.)$", re.IGNORECASE)
# a worldview example reads "Question: ... Answer: ..."; only the coach's answers are his statements
_TURN = re.compile(rf"\b({'|'.join(TURN_LABELS.values())}):\s*")
_ANSWER = TURN_LABELS["assistant"]
# shorter pieces are headings, bullets or cue numbers, not statements
MIN_SENTENCE_CHARS = 12
# a line at least this long that stops without a sentence's end, followed by one going on in lower case, is
# prose wrapped at a fixed width ("although it is mainly / determined by genetic factors"); log rows and
# list items are shorter or start otherwise
WRAPPED_LINE_CHARS = 40
_UNFINISHED = re.compile(r"[^.!?…:;|]$")
_CONTINUES = re.compile(r"\s*[a-zа-яё]")


class Statement(NamedTuple):
    text: str
    section: str  # the headings of the excerpt's section it stands under, outermost first; "" before any


def unwrap(text: str) -> str:
    """Prose hard-wrapped at a fixed width, joined back into its lines (one space for each wrap)."""
    lines = text.split("\n")
    joined = [lines[0]]
    for previous, line in zip(lines, lines[1:]):
        previous = previous.rstrip()  # the line as written: a short one that a wrap joined is no wrap itself
        if len(previous) >= WRAPPED_LINE_CHARS and _UNFINISHED.search(previous) and _CONTINUES.match(line):
            joined[-1] = f"{joined[-1].rstrip()} {line.lstrip()}"
        else:
            joined.append(line)
    return "\n".join(joined)


def split_sentences(text: str) -> list[str]:
    text = unwrap(text)
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start:match.start()].rstrip()
        if match.group(0).strip("\n") and _ABBREVIATION.search(candidate):
            continue  # "approx. 5 km" does not end a sentence
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if len(p) >= MIN_SENTENCE_CHARS]


def statements(text: str) -> list[Statement]:
    """The sentences of an excerpt that state something, with the section each stands in: in a worldview
    example, those of the answers."""
    parts = _TURN.split(text)
    if len(parts) == 1:
        return [Statement(s, section) for section, body in _sections(text) for s in split_sentences(body)]
    # parts: [before the first label, label, turn, label, turn, ...]
    return [Statement(s, "") for label, turn in zip(parts[1::2], parts[2::2]) if label == _ANSWER
            for s in split_sentences(turn)]


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading trail, body) pieces of an excerpt split at its Markdown headings."""
    # a Markdown heading inside an excerpt ("## FRIDAY AUG 13") states nothing; it places what follows it
    pieces, trail, body = [], [], []  # trail: (level, heading) of the headings open at this line
    for line in text.split("\n"):
        match = MD_HEADING.match(line)
        if match:
            pieces.append((HEADING_TRAIL.join(h for _, h in trail), "\n".join(body)))
            trail, body = nested(trail, len(match.group(1)), match.group(2)), []
        else:
            body.append(line)
    pieces.append((HEADING_TRAIL.join(h for _, h in trail), "\n".join(body)))
    return [(h, b) for h, b in pieces if b.strip()]
