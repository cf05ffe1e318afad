"""Dates as apps, devices and people write them: which column holds them, and what day a value names.

ISO strings take the fast path; everything else (month names in English or Russian, 12-hour clocks,
time-zone suffixes) goes through dateparser. A column's day/month order is decided once from all of
its values, so '03/04/2021' means the same day in every row of one file. The date is the calendar day
as written: a timestamp with a zone keeps the day on its own clock (a Strava time is UTC, a watch's
is local), since the athlete's zone is not known.
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from dateparser.date import DateDataParser

_LANGUAGES = ["en", "ru"]
# a header that names a calendar date ranks above one that names a time of day or a start
_DATE_WORDS = re.compile(r"\b(date|datetime|day|timestamp|дата|день|число)\b")
_TIME_WORDS = re.compile(r"\b(time|start|started|when|время|начало|старт)\b")
# "Elapsed Time", "Moving Time", "Время в пути" are durations, not dates
_DURATION_WORDS = re.compile(r"\b(elapsed|moving|duration|total|pace|split|длительность|продолжительность|темп|в пути)\b")
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})\b")
# Excel counts days from 1899-12-30; serials outside these bounds (1954-2119) are not dates in a log
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_SERIALS = (20_000, 80_000)
_SAMPLE_ROWS = 50
_YEAR = re.compile(r"\d{4}|\b\d{1,2}[./]\d{1,2}[./]\d{2}\b")


def header_rank(header) -> int:
    """2 for a date header ('Activity Date', 'Дата тренировки'), 1 for a time one ('Start Time'), else 0."""
    text = " ".join(str(header or "").replace("\ufeff", "").lower().replace("_", " ").split())
    if not text or _DURATION_WORDS.search(text):
        return 0
    if _DATE_WORDS.search(text):
        return 2
    return 1 if _TIME_WORDS.search(text) else 0


class DateReader:
    """Reads one column's values as calendar days, with the day/month order that column uses."""

    def __init__(self, order: str):
        self.order = order

    @classmethod
    def for_values(cls, values: list, header: str = "") -> "DateReader":
        return cls(_column_order([v for v in values if isinstance(v, str)], header))

    def read(self, value) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return _excel_serial(value)
        text = " ".join(str(value).split())
        if not text or not any(ch.isdigit() for ch in text):
            return None  # "yesterday" and other relative words name no day of their own
        try:
            return _excel_serial(float(text.replace(",", ".")))
        except ValueError:
            pass
        return _parse_text(text, self.order)


def date_column(header: list, rows: list[list]) -> tuple[int, DateReader] | None:
    """The column holding the session dates: the best-named header with the most values that read as
    dates. Rows whose value does not read are the caller's to report."""
    best = None
    for column, name in enumerate(header):
        rank = header_rank(name)
        if not rank:
            continue
        values = [r[column] for r in rows[:_SAMPLE_ROWS] if column < len(r) and r[column] not in (None, "")]
        if not values:
            continue
        reader = DateReader.for_values(values, str(name))
        share = sum(reader.read(v) is not None for v in values) / len(values)
        if share and (best is None or (rank, share) > best[0]):
            best = ((rank, share), column, reader)
    return (best[1], best[2]) if best else None


def _column_order(texts: list[str], header: str) -> str:
    """'YMD', 'DMY' or 'MDY' for numeric dates: a part above 12 settles it; a dotted date is European;
    otherwise a Russian header means day first and anything else month first (the apps' US default)."""
    parts = [m.groups() for m in map(_NUMERIC_DATE.match, texts) if m]
    if not parts:
        return "DMY"
    if all(len(p[0]) == 4 for p in parts):
        return "YMD"
    if any(int(p[0]) > 12 for p in parts):
        return "DMY"
    if any(int(p[1]) > 12 for p in parts):
        return "MDY"
    if any("." in t[:10] for t in texts) or re.search(r"[а-яё]", header.lower()):
        return "DMY"
    return "MDY"


def _excel_serial(number: float) -> dt.date | None:
    low, high = _EXCEL_SERIALS
    if not low <= number <= high:
        return None
    return _EXCEL_EPOCH + dt.timedelta(days=int(number))


@lru_cache(maxsize=100_000)
def _parse_text(text: str, order: str) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    found = _parser(order).get_date_data(text).date_obj
    return found.date() if found else None


@lru_cache(maxsize=8)
def _parser(order: str) -> DateDataParser:
    # no relative time: a duration ("7 weeks until IRONMAN Canada") is no date, though dateparser's
    # relative-time parser reads it as seven weeks before today
    return DateDataParser(languages=_LANGUAGES, settings={
        "DATE_ORDER": order, "REQUIRE_PARTS": ["day", "month"], "PREFER_DAY_OF_MONTH": "first",
        "PARSERS": ["timestamp", "custom-formats", "absolute-time"]})


def parse_day(text: str) -> tuple[dt.date, bool] | None:
    """A day named in prose ('12 марта 2026', 'March 12', '2026-03-12', '12.03.2026') and whether the
    text gave its year; a day without one is dated in the current year, for the caller to correct."""
    text = " ".join(text.split())
    if not any(ch.isdigit() for ch in text):
        return None
    found = _parse_text(text, "DMY")
    return (found, bool(_YEAR.search(text))) if found else None
