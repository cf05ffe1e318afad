"""Facets of a running question that exclude each other: race distance, season and training period.

A coach's sentence about the marathon taper does not answer a question about the half-marathon taper,
and the winter base does not answer a question about the summer one, although every other word matches.
Lexical coverage and embedding similarity both rate such a "neighbour" sentence highly, so the evidence
scorer gets one more signal: the question names a value of a facet, and the sentence (or, when the
sentence names none, its excerpt) names only other values of it.

Each value is a pattern over lowercased text in both languages. Longer names come first within a facet
and a matched span is blanked before the next pattern runs, so "half marathon" and "полумарафон" are
not also read as "marathon".
"""
from __future__ import annotations

import re

_KM = r"\s?(?:km|k|км|к)\b"
FACETS: dict[str, dict[str, str]] = {
    "distance": {
        "ultra": r"\bultra\w*|\bультра\w*|\b(?:50|100)\s?(?:km|км|k)\b(?!\s*(?:a|per|в|за)\s*(?:week|неделю))",
        "half marathon": r"\bhalf[\s-]?marathon\w*|\bполумарафон\w*|\b21[.,]1\b",
        "marathon": r"\bmarathon\w*|\bмарафон\w*|\b42[.,]2\b",
        "10 km": rf"\b10{_KM}|\b10[\s,.]?000\s?(?:m|м)\b|\bдесятк\w*|\bten[\s-]k\b",
        "5 km": rf"\b5{_KM}|\b5[\s,.]?000\s?(?:m|м)\b|\bпятерк\w*|\bfive[\s-]k\b",
        "3000 m": r"\b3[\s,.]?000\s?(?:m|м)\b|\bsteeple\w*|\bстипль\w*",
        "1500 m": r"\b1[\s,.]?500\s?(?:m|м)\b|\bmile\b|\bмиля\b",
        "800 m": r"\b800\s?(?:m|м)\b",
    },
    "season": {
        "winter": r"\bwinter\w*|\bзим\w*",
        "summer": r"\bsummer\w*|\bлет(?:о|а|ом|н\w*)\b",
        "spring": r"\bspring\b|\bвесн\w*|\bвесен\w*",
        "autumn": r"\bautumn\w*|\bосен\w*",
    },
    "period": {
        "off-season": r"\boff[\s-]?season\w*|\bмежсезон\w*|\btransition\w*|\bпереходн\w*",
        "base": r"\bbase\s(?:period|phase|block|build)\w*|\bбазов\w*",
        "competition": r"\bcompetition\s(?:period|phase|season)\w*|\bracing season\b|\bсоревновательн\w*",
        "preparation": r"\bpre[\s-]?season\w*|\bpreparat\w*\s(?:period|phase)|\bподготовительн\w*",
    },
}
_COMPILED = {facet: [(value, re.compile(pattern)) for value, pattern in values.items()]
             for facet, values in FACETS.items()}


def facet_values(text: str) -> dict[str, set[str]]:
    """The values of each facet the text names (facets it does not name are absent)."""
    found: dict[str, set[str]] = {}
    lowered = text.lower().replace("ё", "е")
    for facet, values in _COMPILED.items():
        rest = lowered
        for value, pattern in values:
            if pattern.search(rest):
                found.setdefault(facet, set()).add(value)
                rest = pattern.sub(" ", rest)
    return found


def conflict(asked: dict[str, set[str]], sentence: dict[str, set[str]], excerpt: dict[str, set[str]]) -> float:
    """The share of the facets the question names for which the sentence and its excerpt name only other
    values. The excerpt counts even when the sentence names a value: "the last 5 km" of a marathon report
    is a split, not the race asked about."""
    if not asked:
        return 0.0
    clashes = 0
    for facet, wanted in asked.items():
        named = sentence.get(facet, set()) | excerpt.get(facet, set())
        clashes += bool(named) and not (named & wanted)
    return clashes / len(asked)
