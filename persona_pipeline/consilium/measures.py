"""Which measure a question asks for, and which measure a figure in a sentence or a log row gives.

"What was Orlov's maximum heart rate?" asks for a heart rate; "Orlov's plan of 160 km a week" gives a
distance, and "Camp: Kislovodsk altitude camp; Altitude m: 1200" an altitude: neither answers it, though
each matches the athlete or the camp word for word. A figure answers a question that asks for a measure
when its unit or its field is that measure, or when nothing says what it measures ("one session a week").
Questions that ask for none of these measures ("how many days") take any figure.

Log rows (training logs, camp sheets, device files) reach the index as "Field: value" pairs. Field names
come from whoever made the spreadsheet, so each measure is recognised by a pattern over field names; a
field that measures none of them (a session's name, notes, a comment) is free text.
"""
from __future__ import annotations

import re

from ..ingest.units import name_measure

# a row: at least this many "Field: value" pairs separated by semicolons
MIN_FIELDS = 2
_PAIR = re.compile(r"(?:^|;)\s*([^:;]{1,40}?):\s+([^;]*)")

# measure: (pattern over a lowercased field name, pattern over the lowercased question); a field's distance,
# pace or duration is read as the log parsers read a column's (ingest/units.py). Words that mostly
# qualify something else stay out of the question patterns: "after a hard session" asks for no effort, and
# "before the start" / "перед стартом" is the race, not a clock time asked for
MEASURES: dict[str, tuple[str, str]] = {
    "distance": (r"km\b|км\b|kilomet|километр",
                 r"distance|\bfar\b(?! (?:ahead|before|in advance))|\bkm\b|kilomet|\bmiles?\b|дистанц|расстоян|\bкм\b|километр"),
    "pace": (r"speed|скорост",
             r"pace|\bfast|speed|quick|темп|скорост|быстр"),
    "heart rate": (r"\bhr\b|heart|pulse|пульс|чсс|bpm",
                   r"\bhr\b|heart|pulse|bpm|пульс|чсс|удар"),
    "duration": (r"moving|elapsed",
                 r"duration|\btime\b|\bhours?\b|minutes?|длительност|врем|\bчас|минут"),
    "effort": (r"\brpe\b|effort|усили", r"\brpe\b|effort|perceived|усили"),
    "altitude": (r"altitude|elevation|высот|набор|подъ[её]м",
                 r"altitude(?! camp)|elevation|climb|\bheight|высот|набор высоты|подъ[её]м"),
    "laps": (r"\blaps?\b|круг", r"\blaps?\b|круг"),
    "mass": (r"weight|\bвес|\bkg\b|\bкг\b", r"\bgrams?\b|milligram|\bkg\b|\bkilos?\b|weigh|грамм|\bвес|\bкг\b"),
}
_FIELD = {measure: re.compile(field) for measure, (field, _) in MEASURES.items()}
_ASKED = {measure: re.compile(asked) for measure, (_, asked) in MEASURES.items()}

# what a figure measures by its unit (or, for effort, the scale around it); where two start at one place the
# first listed wins: "/km" and "seconds per km" are a pace before "km" is a distance and "seconds" a
# duration; "151 g/L" is a concentration, no mass. Volume and share are no measure a question is recognised
# to ask for, but a figure in millilitres or percent answers no question about a pace or a mass either
NUMBER = r"\d+(?:[.,:]\d+)*"
_TIME_UNIT = r"(?:s|sec\w*|seconds?|min\w*|сек\w*|мин\w*)"
UNITS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"pace"}), rf"{NUMBER}\s?(?:{_TIME_UNIT}\s?)?(?:/\s?(?:km|км|mi)\b|per (?:km|kilomet\w*|mile)|"
                          rf"на (?:км|километр)\b)"),
    (frozenset({"heart rate"}), rf"{NUMBER}\s?(?:bpm|beats|уд(?:\.|/мин|ар\w*)?)\b"),
    (frozenset({"effort"}), rf"\brpe:?\s?{NUMBER}(?:\s?(?:out of 10|/\s?10))?|{NUMBER}\s?(?:out of 10|/\s?10|из 10)\b"),
    (frozenset({"distance"}), rf"{NUMBER}\s?(?:km|k|miles?|км|километр\w*|kilomet\w*)\b"),
    (frozenset({"distance", "altitude"}), rf"{NUMBER}\s?(?:m|metres?|meters?|м|метр\w*)\b"),
    (frozenset({"duration"}), rf"{NUMBER}\s?(?:{_TIME_UNIT}|h|hours?|hrs?|час\w*|ч)\b"),
    (frozenset({"mass"}), rf"{NUMBER}\s?(?:kg|g|mg|grams?|milligrams?|кг|г|мг|грамм\w*|миллиграмм\w*|килограмм\w*)\b(?!\s?/)"),
    (frozenset({"volume"}), rf"{NUMBER}\s?(?:ml|l|litres?|liters?|мл|л|литр\w*)\b"),
    (frozenset({"share"}), rf"{NUMBER}\s?(?:%|percent|per cent|процент\w*)"),
)
_UNITS = re.compile("|".join(f"(?P<u{i}>{unit})" for i, (_, unit) in enumerate(UNITS)), re.IGNORECASE)


def fields(sentence: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of a log row, or [] for a sentence that is no row."""
    pairs = [(name.strip(), value.strip()) for name, value in _PAIR.findall(sentence)]
    return pairs if len(pairs) >= MIN_FIELDS else []


def measure_of(field_name: str) -> str | None:
    name = field_name.lower()
    return name_measure(name) or next((measure for measure, pattern in _FIELD.items() if pattern.search(name)), None)


def asked_measures(question: str) -> set[str]:
    lowered = question.lower().replace("ё", "е")
    return {measure for measure, pattern in _ASKED.items() if pattern.search(lowered)}


def answering_text(sentence: str, asked: set[str]) -> str:
    """The part of a sentence that may hold the figure asked for: in a row, the values of the fields that
    measure what is asked and of free-text fields; in prose, the sentence less the figures whose unit
    measures something else. Everything when nothing is asked."""
    if not asked:
        return sentence
    pairs = fields(sentence)
    if pairs:
        sentence = " ; ".join(value for name, value in pairs if measure_of(name) in asked | {None})
    return _UNITS.sub(lambda m: m.group() if UNITS[int(m.lastgroup[1:])][0] & asked else " ", sentence)
