"""Log columns with units: distance in km, durations in seconds, pace in seconds per km.

A unit comes from the header ("Distance (km)", "distance_m", "Темп (мин/км)") or, when an export
leaves it out (Strava's "Distance", "Elapsed Time"), from the size of the column's values.
"""
from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import dataclass

from .dates import header_rank

_UNIT_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*[\(\[](?P<unit>[^\)\]]+)[\)\]]\s*$")
_UNIT_SUFFIXES = {"km": "km", "m": "m", "mi": "mi", "min": "min", "s": "s", "sec": "s", "bpm": "bpm", "kg": "kg", "h": "h"}
_SCALE = re.compile(r"^\d+\s*[-–]\s*(\d+)$")  # "RPE (1-10)" is a scale, not a unit

_DISTANCE_ONLY_UNITS = ("km", "км", "mi", "miles")
_KM_PER = {"km": 1.0, "км": 1.0, "m": 0.001, "м": 0.001, "meters": 0.001, "metres": 0.001, "mi": 1.609344, "miles": 1.609344}
_SECONDS_PER = {"s": 1, "sec": 1, "с": 1, "сек": 1, "min": 60, "мин": 60, "h": 3600, "hr": 3600, "ч": 3600}
_DISTANCE_NAME = re.compile(r"distance|dist\b|дистанц|расстояни|километраж", re.IGNORECASE)
_PACE_NAME = re.compile(r"\bpace\b|темп", re.IGNORECASE)
_DURATION_NAME = re.compile(r"\btime\b|duration|seconds|minutes|время|длительн|продолжительн", re.IGNORECASE)
_TIME_OF_DAY = re.compile(r"start|begin|when|начал|старт", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*(h|hrs?|hours?|ч|час\w*|m|mins?|minutes?|мин\w*|s|secs?|seconds?|с|сек\w*)(?![a-zа-я])",
                            re.IGNORECASE)
_PER_MILE = re.compile(r"/\s*mi(le)?\b", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?$")
# Without a unit: a distance column whose median is above this is in metres (no session is 250 km),
# a duration column whose median is at most this is in minutes (no session lasts 4 minutes).
_METRES_ABOVE = 250
_MINUTES_UP_TO = 240


@dataclass(frozen=True)
class Column:
    name: str | None
    unit: str | None
    measure: str | None = None   # "distance", "duration" or "pace": read into a normalised number

    def shown(self, value) -> str:
        """The cell as the chunk text shows it: a normalised figure for measures, else as written."""
        number = self.normalise(value)
        if number is not None:
            return format_measure(self.measure, number)
        text = _plain(value)
        scale = _SCALE.match(self.unit or "")
        if scale:
            return f"{text}/{scale.group(1)}"
        return text + (f" {self.unit}" if self.unit and self.unit not in text else "")

    def normalise(self, value) -> float | None:
        if self.measure == "distance":
            return _distance_km(value, self.unit)
        if self.measure == "duration":
            return _seconds(value, self.unit)
        if self.measure == "pace":
            return _pace_per_km(value, self.unit)
        return None


def read_header(raw) -> tuple[str | None, str | None]:
    """(name, unit) of a header cell: "Distance (km)" -> ("Distance", "km"), "distance_km" likewise."""
    if raw is None or not str(raw).strip():
        return None, None
    text = " ".join(str(raw).replace("\ufeff", "").split())
    match = _UNIT_IN_HEADER.match(text)
    if match:
        return match.group("name"), match.group("unit")
    stem, _, suffix = text.rpartition("_")
    if stem and suffix.lower() in _UNIT_SUFFIXES:
        return humanize(stem), _UNIT_SUFFIXES[suffix.lower()]
    return humanize(text), None


def column(raw_header, values: list) -> Column:
    """The column with its measure, and the unit its values are in when the header does not say."""
    name, unit = read_header(raw_header)
    if name is None:
        return Column(None, None)
    lowered_unit = (unit or "").lower().replace(" ", "")
    if _PACE_NAME.search(name) or re.search(r"/(km|mi|км)", lowered_unit):
        return Column(name, unit, "pace")
    # metres alone do not make a distance: "Elevation gain (m)" stays in metres
    if _DISTANCE_NAME.search(name) or lowered_unit in _DISTANCE_ONLY_UNITS:
        return Column(name, unit or _guess_distance_unit(values), "distance")
    if lowered_unit in _SECONDS_PER:
        return Column(name, unit, "duration")
    if header_rank(name) == 2 or _TIME_OF_DAY.search(name):
        return Column(name, unit)  # "Start Time" is a time of day; a bare "Time" or "Время" is how long
    if _DURATION_NAME.search(name) and unit is None:
        return Column(name, _guess_duration_unit(name, values), "duration")
    return Column(name, unit)


def name_measure(name: str) -> str | None:
    """What a column's name alone says it measures: "pace", "distance", "duration" or None ("Start Time" is
    a time of day, not how long)."""
    if _PACE_NAME.search(name):
        return "pace"
    if _DISTANCE_NAME.search(name):
        return "distance"
    if _TIME_OF_DAY.search(name):
        return None
    return "duration" if _DURATION_NAME.search(name) else None


def format_measure(measure: str, number: float) -> str:
    if measure == "distance":
        return f"{round(number, 2):g} km"
    if measure == "pace":
        return f"{clock(number)} /km"
    return clock(number)


def clock(seconds: float) -> str:
    """1:05:00 for an hour and five minutes, 4:55 for a pace or a short rep."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def humanize(key: str) -> str:
    words = key.replace("_", " ").strip()
    words = re.sub(r"\bhr\b", "HR", words, flags=re.IGNORECASE)
    words = re.sub(r"\brpe\b", "RPE", words, flags=re.IGNORECASE)
    return words[:1].upper() + words[1:]


def _plain(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.time):
        return value.strftime("%M:%S") if value.hour == 0 else value.strftime("%H:%M:%S")
    return " ".join(str(value).split())


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip().replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except ValueError:
        return None


def _unit_factor(unit: str | None, table: dict) -> float | None:
    key = (unit or "").lower().strip(". ")
    return table.get(key)


def _distance_km(value, unit: str | None) -> float | None:
    number, factor = _number(value), _unit_factor(unit, _KM_PER)
    return number * factor if number is not None and factor is not None else None


def _seconds(value, unit: str | None) -> float | None:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    number = _number(value)
    if number is not None:
        factor = _unit_factor(unit, _SECONDS_PER)
        return number * factor if factor is not None else None
    text = str(value).strip()
    match = _CLOCK.match(text)
    if match:
        first, second, third = match.groups()
        if third is not None:
            return int(first) * 3600 + int(second) * 60 + float(third)
        # "1:30" in an hours column is an hour and a half; anywhere else a minute and a half
        scale = 3600 if _unit_factor(unit, _SECONDS_PER) == 3600 else 60
        return int(first) * scale + int(second) * scale / 60
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip(" ,"):
        return None
    return sum(float(n.replace(",", ".")) * _part_seconds(u) for n, u in parts)


def _part_seconds(unit: str) -> int:
    unit = unit.lower()
    if unit[0] in "hч":
        return 3600
    if unit[0] == "m" or unit.startswith("мин"):
        return 60
    return 1


def _pace_per_km(value, unit: str | None) -> float | None:
    per_mile = bool(_PER_MILE.search(unit or ""))
    match = _CLOCK.match(str(value).strip())
    number = _number(value)
    if isinstance(value, dt.time):
        # a spreadsheet that typed "4:55" stored it as 04:55 (h:mm): no pace is hours per km
        minutes, secs = (value.hour, value.minute) if value.hour else (value.minute, value.second)
        seconds = minutes * 60 + secs
    elif match and match.group(3) is None:
        seconds = int(match.group(1)) * 60 + int(match.group(2))
    elif number is not None and number > 0:
        seconds = number * (1 if (unit or "").lower().startswith(("s", "с")) else 60)
    else:
        return None
    return seconds / _KM_PER["mi"] if per_mile else seconds


def _guess_distance_unit(values: list) -> str:
    numbers = [n for n in map(_number, values) if n]
    return "m" if numbers and statistics.median(numbers) > _METRES_ABOVE else "km"


def _guess_duration_unit(name: str, values: list) -> str | None:
    if re.search(r"seconds|секунд", name, re.IGNORECASE):
        return "s"
    if re.search(r"minutes|минут", name, re.IGNORECASE):
        return "min"
    numbers = [n for n in map(_number, values) if n]
    if not numbers:
        return None  # clock strings ("1:05:00", "52m") carry their own units
    return "min" if statistics.median(numbers) <= _MINUTES_UP_TO else "s"
