"""Training diaries (md, txt under logs/): prose cut into dated entries.

A date at the start of a heading or of a paragraph ("## 12 марта 2026", "March 12 — easy run",
"2026-03-12: ...", "12.03 темповый") opens an entry; its paragraphs are chunked together and carry the
date. A date without a year takes the year of the entry before it, or of the file name.
"""
from __future__ import annotations

import datetime as dt
import re

from .dates import parse_day
from . import markup
from .decoding import decode_text
from .document import Block, Document, MaterialError
from .sessions import spoken_date
from .text import HEADING_TRAIL, MD_HEADING, is_plain_heading, nested, paragraphs, stem_title

_LEADING_WORDS = 5          # a date opens a paragraph within its first few words
_YEAR_IN_NAME = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
_DAY_MONTH = re.compile(r"^(\d{1,2})\.(\d{1,2})(?![.\d])")   # "12.03" with the year left out
_TRAILING = ",.:;—–-()*"


def parse_diary(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    fields, text = markup.split_front_matter(text)
    markdown = path.lower().endswith((".md", ".markdown"))
    # the year of entries written without one: from the file name, else from a blog post's date
    found_year = _YEAR_IN_NAME.search(path.rsplit("/", 1)[-1]) or _YEAR_IN_NAME.search(str(fields.get("date", "")))
    state = _Entries(int(found_year.group()) if found_year else None)
    default_title = markup.front_matter_title(fields) or stem_title(path)
    title = default_title
    for number, (body, line) in enumerate(paragraphs(text, markdown)):
        first, _, rest = body.partition("\n")
        heading = MD_HEADING.match(first) if markdown else None
        if heading:
            # a first-level heading before any entry is the diary's title; after one, it is a heading
            if (len(heading.group(1)) == 1 and title == default_title and not state.dated
                    and not state.date_at(heading.group(2))):
                title = heading.group(2)
            else:
                state.open(heading.group(2), whole_line=True, level=len(heading.group(1)))
            if not rest.strip():
                continue
            body, line = rest, line + 1
        elif not markdown and number == 0 and is_plain_heading(body) and not state.date_at(body):
            title = body  # a text file's first short line is its title, as in plain text articles
            continue
        elif not markdown and is_plain_heading(body):
            # a short dated line ("12 марта — 10 км легко") is an entry of its own; an undated one a heading
            # (Markdown marks its headings, so there a short line is text: "Sleep **2** | Fatigue **4**")
            if not state.open(body, whole_line=True):
                continue
        else:
            state.open(first, whole_line=False)
        state.add(body, line)
    if not state.blocks:
        raise MaterialError("no body text (only headings)")
    warnings = state.warnings + ([] if state.dated else ["no dated entries found (no date at the start of a heading or paragraph); indexed as plain text"])
    return Document(path=path, title=title, blocks=state.blocks, warnings=warnings)


class _Entries:
    """The entry being read: its date and heading, and the year a date without one belongs to."""

    def __init__(self, year: int | None):
        self.year, self.day, self.heading = year, None, None
        # the Markdown headings open now, (level, text), outermost first: the day's, then undated ones under it
        self.trail: list[tuple[int, str]] = []
        self.blocks: list[Block] = []
        self.warnings: list[str] = []
        self.dated = False

    def date_at(self, text: str) -> tuple[dt.date, str] | None:
        """The date the text opens with, and what follows it."""
        words = text.split()[:_LEADING_WORDS]
        for count in range(len(words), 0, -1):
            candidate = " ".join(words[:count]).rstrip(_TRAILING)
            if not any(ch.isdigit() for ch in candidate):
                continue
            day = self._day(candidate)
            if day:
                return day, " ".join(text.split()[count:]).strip(_TRAILING + " ")
        return None

    def open(self, text: str, whole_line: bool, level: int | None = None) -> bool:
        """`level`: a Markdown heading's. An undated one below the day's heading ("### NOTES" under "## FRIDAY
        AUG 13") is a part of that day; one at the day's level or above ends the day."""
        found = self.date_at(text)
        if found is None:
            if whole_line and level is not None and self.day and self.trail:
                if level <= self.trail[0][0]:  # at the day's level or above
                    self.day = None
                self.trail = nested(self.trail, level, text)
                self.heading = HEADING_TRAIL.join(h for _, h in self.trail)
            elif whole_line:
                self.heading = text
            return False
        self.day, after = found
        self.year, self.dated = self.day.year, True
        self.heading = spoken_date(self.day) + (f" — {after}" if whole_line and after else "")
        # a day opened by a paragraph stands at the level of the heading it is written under
        day_level = level if level is not None else (self.trail[0][0] if self.trail else None)
        self.trail = [(day_level, self.heading)] if day_level is not None else []
        return True

    def add(self, text: str, line: int) -> None:
        date = self.day.isoformat() if self.day else None
        group = f"{date} {self.heading or ''}"
        self.blocks.append(Block(text=text, group=group, heading=self.heading, date=date, line=line))

    def _day(self, candidate: str) -> dt.date | None:
        short = _DAY_MONTH.match(candidate)
        if short and self.year and candidate == short.group(0):
            try:
                return dt.date(self.year, int(short.group(2)), int(short.group(1)))
            except ValueError:
                return None
        parsed = parse_day(candidate)
        if parsed is None:
            return None
        day, has_year = parsed
        if has_year:
            return day
        if self.year is None:
            self.warnings.append(f"'{candidate}' has no year and none is known before it; read as {day.year}")
            return day
        try:
            return day.replace(year=self.year)
        except ValueError:  # 29 February in a year without one
            return None
