"""Log rows become training sessions and weeks: what a coach asks about, instead of one chunk per row.

The rows of one session (same day, same athlete) form one group, so they are chunked together; each
athlete's week with two or more sessions gets a summary block with its totals. Every row keeps its
line, its date and its figures, so it stays findable on its own.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import groupby

from .document import Block
from .units import clock

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_MONTHS_RU = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
              "октября", "ноября", "декабря")
# what a week's summary adds up, in the order it says them
TOTALS = ("distance", "duration")


@dataclass
class LogRow:
    date: dt.date
    stamp: str | None      # the date cell as written when it has a time: rows sharing it are one workout
    athlete: str | None
    label: str | None      # what the session was: "Easy run", "Push day"
    fields: list[tuple[str, str]]
    measures: dict[str, float] = field(default_factory=dict)
    line: int | None = None


def spoken_date(day: dt.date) -> str:
    """'2026-03-06, 6 March 2026, 6 марта 2026': the forms a question in either language uses."""
    return f"{day.isoformat()}, {day.day} {_MONTHS_EN[day.month - 1]} {day.year}, {day.day} {_MONTHS_RU[day.month - 1]} {day.year}"


def spoken_week(monday: dt.date) -> str:
    """'2026-03-02 to 2026-03-08, 2–8 March 2026, 2–8 марта 2026' (or '30 March – 5 April 2026')."""
    sunday = monday + dt.timedelta(days=6)

    def span(months: tuple[str, ...]) -> str:
        if monday.month == sunday.month:
            return f"{monday.day}–{sunday.day} {months[monday.month - 1]} {sunday.year}"
        start = f"{monday.day} {months[monday.month - 1]}" + (f" {monday.year}" if monday.year != sunday.year else "")
        return f"{start} – {sunday.day} {months[sunday.month - 1]} {sunday.year}"

    return f"{monday.isoformat()} to {sunday.isoformat()}, {span(_MONTHS_EN)}, {span(_MONTHS_RU)}"


def session_blocks(rows: list[LogRow], context: str = "") -> list[Block]:
    """One group per session in date order, then one summary block per athlete's week of 2+ sessions."""
    ordered = sorted(rows, key=lambda r: (r.date, r.athlete or ""))
    blocks, sessions = [], []
    for (day, athlete), members in groupby(ordered, key=lambda r: (r.date, r.athlete)):
        members = list(members)
        sessions.append((day, athlete, members))
        blocks += _session(day, athlete, members, context)
    by_week = sorted(sessions, key=lambda s: (s[1] or "", s[0]))
    for (athlete, _), week in groupby(by_week, key=lambda s: (s[1], s[0].isocalendar()[:2])):
        week = list(week)
        if len(week) > 1:
            blocks.append(_week_block(athlete, week, context))
    return blocks


def _session(day: dt.date, athlete: str | None, rows: list[LogRow], context: str) -> list[Block]:
    heading = f"{day.isoformat()}" + (f" {athlete}" if athlete else "")
    group = f"session {heading}"
    common = [f for f in rows[0].fields if len(rows) > 1 and all(f in r.fields for r in rows[1:])]
    opening = f"Training session {spoken_date(day)}" + (f", {athlete}" if athlete else "") + "."
    if context:
        opening = f"{context}. {opening}"
    if common:
        opening += " " + _fields(common)
    blocks = []
    for number, row in enumerate(rows):
        text = _fields([f for f in row.fields if f not in common])
        if number == 0:
            text = f"{opening} {text}".strip() if text else opening
        if text:
            blocks.append(Block(text=text, group=group, heading=heading, date=day.isoformat(), line=row.line))
    return blocks


def _week_block(athlete: str | None, sessions: list, context: str) -> Block:
    first = sessions[0][0]
    monday = first - dt.timedelta(days=first.weekday())
    year, week, _ = first.isocalendar()
    totals = _week_totals(sessions)
    said = [f"{len(sessions)} sessions"] + [_total(name, totals[name]) for name in TOTALS if totals.get(name)]
    days = "; ".join(_session_line(day, rows) for day, _, rows in sessions)
    who = f", {athlete}" if athlete else ""
    text = (f"Week {year}-W{week:02d} summary{who}: {spoken_week(monday)}. "
            f"Totals: {', '.join(said)}. Sessions: {days}.")
    if context:
        text = f"{context}. {text}"
    heading = f"week {year}-W{week:02d}" + (f" {athlete}" if athlete else "")
    return Block(text=text, group=heading, heading=heading, date=monday.isoformat())


def _week_totals(sessions: list) -> dict[str, float]:
    totals: dict[str, float] = {}
    for _, _, rows in sessions:
        for name, value in _session_totals(rows).items():
            totals[name] = totals.get(name, 0.0) + value
    return totals


def _session_totals(rows: list[LogRow]) -> dict[str, float]:
    """Sums over the session's workouts; within one workout (a gym log's sets, sharing one timestamp)
    a figure repeated on every row, such as the workout's duration, counts once."""
    totals: dict[str, float] = {}
    workouts = groupby(rows, key=lambda r: r.stamp or id(r))
    for _, members in workouts:
        members = list(members)
        for name in TOTALS:
            values = [r.measures[name] for r in members if name in r.measures]
            if values:
                value = values[0] if len(values) > 1 and len(set(values)) == 1 else sum(values)
                totals[name] = totals.get(name, 0.0) + value
    return totals


def _session_line(day: dt.date, rows: list[LogRow]) -> str:
    labels = list(dict.fromkeys(r.label for r in rows if r.label))
    totals = _session_totals(rows)
    figures = [_total(name, totals[name]) for name in TOTALS if totals.get(name)]
    return f"{day.isoformat()} " + ", ".join(labels[:3] + figures)


def _total(name: str, value: float) -> str:
    return f"{round(value, 2):g} km" if name == "distance" else clock(value)


def _fields(fields: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name}: {shown}" for name, shown in fields) + "." if fields else ""
