"""Which measure a question asks for, and which measure a figure in a sentence or a log row gives.

"What was Orlov's maximum heart rate?" asks for a heart rate; "Orlov's plan of 160 km a week" gives a
distance, and "Camp: Kislovodsk altitude camp; Altitude m: 1200" an altitude: neither answers it, though
each matches the athlete or the camp word for word. A figure answers a question that asks for a measure
when its unit or its field is that measure, or when nothing says what it measures ("one session a week").
Questions that ask for none of these measures ("how many days") take any figure.

Log rows (training logs, camp sheets, device files) reach the index as "Field: value" pairs. Field names
come from whoever made the spreadsheet, so each measure is recognised by a pattern over field names; a
field that measures none of them (a session's name, notes, a comment) is free text.

A question that names the unit itself ("how many minutes", "сколько граммов") wants a figure in that unit:
"one session a week" does not answer how many minutes of sauna he allows, though it would answer "how
often". Figures are read as digits or as number words ("three hours", "восемь с половиной часов").
"""
from __future__ import annotations

import re
from collections.abc import Set

from ...ingest.units import name_measure

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
             r"pace|\bfast|slower|speed|quick|темп|скорост|быстр|медленн|"
             r"(?:minutes?|seconds?|минут\w*|секунд\w*) (?:per|a|на) (?:km|kilomet|mile|км|километр)"),
    "heart rate": (r"\bhr\b|heart|pulse|пульс|чсс|bpm",
                   r"\bhr\b|heart|pulse|bpm|пульс|чсс|удар"),
    "duration": (r"moving|elapsed",
                 r"duration|\btime\b|\bhours?\b|minutes?|длительност|врем|\bчас|минут"),
    "effort": (r"\brpe\b|effort|усили", r"\brpe\b|effort|perceived|усили"),
    "altitude": (r"altitude|elevation|высот|набор|подъ[её]м",
                 r"altitude(?! camp)|elevation|climb|\bheight|высот|набор высоты|подъ[её]м"),
    "laps": (r"\blaps?\b|круг", r"\blaps?\b|круг"),
    "mass": (r"weight|\bвес|\bkg\b|\bкг\b", r"\bgrams?\b|milligram|\bkg\b|\bkilos?\b|weigh|грамм|\bвес|\bкг\b"),
    "share": (r"%|percent|share|процент|доля",
              r"percent|\b(?:what|the) share\b|\bshare of\b|proportion|процент|\bдол[яюи]\b"),
}
_FIELD = {measure: re.compile(field) for measure, (field, _) in MEASURES.items()}
_ASKED = {measure: re.compile(asked) for measure, (_, asked) in MEASURES.items()}

# what a figure measures by its unit (or, for effort, the scale around it); where two start at one place the
# first listed wins: "/km" and "seconds per km" are a pace before "km" is a distance and "seconds" a
# duration, "two seconds faster" is a pace and "75% of maximum heart rate" a heart rate; "151 g/L" is a
# concentration, no mass. Volume is no measure a question is recognised to ask for, but a figure in
# millilitres answers no question about a pace either
NUMBER = r"\d+(?:[.,:]\d+)*"
# a figure written as a word, as in "двенадцать недель" or "three lines"
NUMBER_WORD = (r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|"
               r"eigh|nine)teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|half|twice|once|"
               r"од(?:ин|на|ну|ного|ной|ном)|одиннадцат(?:ь|и)|дв(?:а|е|ух|ум|умя)|тр(?:и|ех|ёх)|четыр(?:е|ех|ёх)|"
               r"пят(?:ь|и)|шест(?:ь|и)|сем(?:ь|и)|"
               r"восем(?:ь|и)|восьм(?:и|ью)|девят(?:ь|и)|десят(?:ь|и)|двенадцат(?:ь|и)|пятнадцат(?:ь|и)|двадцат(?:ь|и)|"
               r"тридцат(?:ь|и)|сорок|пятьдесят|шестьдесят|семьдесят|восемьдесят|девяносто|сто|пол(?:у)?тор\w*|"
               r"половин\w*)\b")
# digits, or a number word and a space or hyphen ("ones" is no "one s"), before a unit, as in "20-minute" or
# "two-hour"; "and a half" may come between
_QUANTITY = rf"(?:{NUMBER}(?:\s(?:and a half)\s)?[\s-]?|{NUMBER_WORD}(?:\s(?:and a half|с половиной))?[\s-])"
# the word forms themselves: "часть", "минус" and "mind" are no units
_TIME_UNIT = r"(?:s|secs?|seconds?|mins?|minutes?|сек|секунд\w*|мин|минут\w*)"
_HOURS = r"(?:h|hours?|hrs?|час(?:а|ов|ах|ам|ом)?|ч)"
# runners name a week's distance by the bare number after the verb: "a runner who runs 60", "пробегает 60"
_RAN = r"\b(?:runs|ran|running|бегает|пробегает|пробегал\w*|пробежал\w*|набегает|набегал\w*)"
UNITS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"pace"}), rf"{_QUANTITY}(?:{_TIME_UNIT}\s?)?(?:/\s?(?:km|км|mi)\b|per (?:km|kilomet\w*|mile)|"
                          rf"на (?:км|километр)\b)|"
                          rf"{_QUANTITY}{_TIME_UNIT}\s(?:faster|slower|quicker|быстрее|медленнее)"),
    (frozenset({"heart rate"}), rf"{_QUANTITY}(?:bpm|beats|уд(?:\.|/мин|ар\w*)?)\b|"
                                rf"{_QUANTITY}(?:%|percent|процент\w*)\s(?:of\s(?:max\w*\s)?(?:heart rate|hr)\b|"
                                rf"от\s(?:максимальн\w*\s)?(?:пульс|чсс)\w*)"),
    (frozenset({"effort"}), rf"\brpe:?\s?{_QUANTITY}(?:\s?(?:out of 10|/\s?10))?|"
                            rf"{_QUANTITY}(?:out of 10|/\s?10|из 10)\b"),
    (frozenset({"distance"}), rf"{_QUANTITY}(?:km|k|miles?|км|километр\w*|kilomet\w*)\b|"
                              rf"{_RAN}\s\d+\b(?![.,:]\d|\s?(?!a\b|per\b|в\b|за\b)\w)"),
    (frozenset({"distance", "altitude"}), rf"{_QUANTITY}(?:m|metres?|meters?|м|метр\w*)\b"),
    (frozenset({"duration"}), rf"{_QUANTITY}(?:{_TIME_UNIT}|{_HOURS})\b"),
    (frozenset({"mass"}), rf"{_QUANTITY}(?:kg|g|mg|grams?|milligrams?|кг|г|мг|грамм\w*|миллиграмм\w*|"
                          rf"килограмм\w*)\b(?!\s?/)"),
    (frozenset({"volume"}), rf"{_QUANTITY}(?:ml|l|litres?|liters?|мл|л|литр\w*)\b"),
    (frozenset({"share"}), rf"{_QUANTITY}(?:%|percent|per cent|процент\w*)"),
)
_UNITS = re.compile("|".join(f"(?P<u{i}>{unit})" for i, (_, unit) in enumerate(UNITS)), re.IGNORECASE)

# units a question may name after "how many", "сколько", "in" or "в": measure(s) -> unit words
NAMED_UNITS: dict[frozenset[str], str] = {
    frozenset({"duration"}): r"minutes?|mins?|hours?|hrs?|seconds?|secs?|минут\w*|час(?:а|ов|ах)?|секунд\w*",
    frozenset({"distance"}): r"km|kilomet\w*|miles?|км|километр\w*",
    frozenset({"distance", "altitude"}): r"metres?|meters?|метр\w*",
    frozenset({"mass"}): r"grams?|milligrams?|kilograms?|kg|грамм\w*|миллиграмм\w*|килограмм\w*|кг",
    frozenset({"heart rate"}): r"beats|bpm|удар\w*",
}
# "в минутах" names the unit, "ударов в минуту" is a rate
_NAMED = {measure: re.compile(rf"\b(?:(?:how many|how much|сколько)\s(?:\w+\s)?|in\s)(?:{words})\b|"
                              rf"\bв\s(?=\w+ах\b)(?:{words})\b")
          for measure, words in NAMED_UNITS.items()}


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


def named_units(question: str) -> set[str]:
    """The measures whose unit the question names as the one it wants ("how many minutes", "в метрах")."""
    lowered = question.lower().replace("ё", "е")
    return {m for measures, pattern in _NAMED.items() if pattern.search(lowered) for m in measures}


def answering_text(sentence: str, asked: Set[str], named: Set[str] = frozenset()) -> str:
    """The part of a sentence that may hold the figure asked for: in a row, the values of the fields that
    measure what is asked and of free-text fields; in prose, the sentence less the figures whose unit
    measures something else. When the question names the unit, only figures in it (or in a field of its
    measure) remain; a pace is a time per distance, so "how many seconds per km" keeps a pace. Everything
    when nothing is asked."""
    asked = set(asked) | set(named)
    if not asked:
        return sentence
    pairs = fields(sentence)
    if named:
        wanted = set(named) | (asked & {"pace"})
        kept = [value for name, value in pairs if measure_of(name) in wanted]
        free = [value for name, value in pairs if measure_of(name) is None] if pairs else [sentence]
        in_unit = [m.group() for text in free for m in _UNITS.finditer(text) if UNITS[int(m.lastgroup[1:])][0] & wanted]
        return " ; ".join(kept + in_unit)
    if pairs:
        sentence = " ; ".join(value for name, value in pairs if measure_of(name) in asked | {None})
    return _UNITS.sub(lambda m: m.group() if UNITS[int(m.lastgroup[1:])][0] & asked else " ", sentence)
