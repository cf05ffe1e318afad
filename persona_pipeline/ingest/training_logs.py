"""Training logs (CSV, XLSX, JSON), from a coach's own table to an app's bulk export: rows are read
with their dates and units and become dated sessions and weekly summaries."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass, field

import openpyxl

from .dates import DateReader, date_column, header_rank
from .decoding import decode_text
from .document import Document, MaterialError
from .row_problems import MISSING, NOT_A_DATE, RowProblems
from .sessions import LogRow, session_blocks
from .text import stem_title
from .units import Column, column, humanize

_HEADER_SEARCH_ROWS = 20   # title rows above a spreadsheet's header ("Training diary: Anna Petrova")
# a training log has tens of columns; each session's text repeats every header, so a far wider line would
# multiply into megabytes of chunks
MAX_COLUMNS = 1000
_ATHLETE = re.compile(r"(athlete|runner|name|спортсмен|атлет|бегун|ученик|имя|фио)( name)?", re.IGNORECASE)
_LABEL = re.compile(r"session|workout|activity name|activity type|sport|тренировк|занятие|вид", re.IGNORECASE)


@dataclass
class _Table:
    """A header and the rows under it, each row with where it is in the file ("line 3", "record 2")."""

    header: list
    rows: list[tuple[str, int | None, list]]
    place: str = ""   # "sheet 'April', " in a workbook
    dates: tuple[int, DateReader] | None = None   # the date column and how its values read
    problems: RowProblems = field(default_factory=RowProblems)
    warnings: list[str] = field(default_factory=list)


def parse_csv(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    table, preamble = _find_header([(n, r) for n, r in enumerate(rows, start=1)])
    return _document(path, stem_title(path), [(table, preamble)])


def parse_xlsx(data: bytes, path: str) -> Document:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise MaterialError(f"unreadable XLSX: {exc}") from exc
    tables, unusable = [], []
    for sheet in workbook.worksheets:
        rows = [(n, list(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1)]
        if not any(any(c not in (None, "") for c in r) for _, r in rows):
            continue
        try:
            table, preamble = _find_header(rows, place=f"sheet '{sheet.title}', ")
        except MaterialError as exc:
            unusable.append(f"sheet '{sheet.title}': {exc}")
            continue
        tables.append((table, preamble or sheet.title))
    if not tables:
        raise MaterialError("no training sessions found in any sheet" + (f" ({'; '.join(unusable)})" if unusable else ""))
    document = _document(path, stem_title(path), tables)
    document.warnings[:0] = unusable
    return document


def parse_json_log(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MaterialError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    context, records = _split_json(payload)
    if not records:
        raise MaterialError("no list of session records found in the JSON")
    title = str(context.get("camp") or context.get("title") or stem_title(path))
    preamble = "; ".join(f"{humanize(k)}: {v}" for k, v in context.items() if not isinstance(v, (list, dict)))
    keys = list(dict.fromkeys(k for r in records if isinstance(r, dict) for k in r))
    table = _Table(keys, [])
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            table.warnings.append(f"record {number}: not an object, skipped")
            continue
        table.rows.append((f"record {number}", None, [record.get(k) for k in keys]))
    if not any(header_rank(k) for k in keys):
        raise MaterialError("no date field in the session records (expected a key such as 'date' or 'start_time')")
    return _document(path, title, [(table, preamble)])


def _find_header(rows: list[tuple[int, list]], place: str = "") -> tuple[_Table, str]:
    """The first row (of the top few) that names a date column above dates; rows above it are a title."""
    _check_width(rows, place)
    for at, (_, header) in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        dates = date_column(header, [r for _, r in rows[at + 1:]]) if any(header_rank(c) for c in header) else None
        if dates:
            preamble = " ".join(" ".join(str(c) for c in r if c not in (None, "")) for _, r in rows[:at]).strip()
            return _Table(header, [(f"line {n}", n, r) for n, r in rows[at + 1:]], place, dates), preamble
    raise MaterialError(_no_date_column(rows))


def _no_date_column(rows: list[tuple[int, list]]) -> str:
    for at, (_, header) in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        named = [i for i, c in enumerate(header) if header_rank(c)]
        if named:
            name = str(header[named[0]]).strip()
            values = [r[named[0]] for _, r in rows[at + 1:] if named[0] < len(r) and r[named[0]] not in (None, "")]
            examples = ", ".join(repr(str(v)) for v in values[:2])
            return f"no date column found: '{name}' values{' such as ' + examples if examples else ''} are not dates"
    return "no date column found (expected a header such as 'Date', 'Activity Date', 'Start Time' or 'Дата')"


def _document(path: str, title: str, tables: list[tuple[_Table, str]]) -> Document:
    blocks, warnings, problems = [], [], RowProblems()
    for table, context in tables:
        rows = _log_rows(table)
        blocks += session_blocks(rows, context)
        warnings += table.warnings + table.problems.summary()
        problems.items += table.problems.items
    if not blocks:
        raise MaterialError("no session rows under the header" + (f" ({'; '.join(warnings)})" if warnings else ""),
                            problems.details())
    return Document(path=path, title=title, blocks=blocks, warnings=warnings, details=problems.details())


def _check_width(rows: list[tuple[int, list]], place: str) -> None:
    # up to the last filled cell: a spreadsheet row formatted to its last column is not wide
    widths = ((line, next((i for i in range(len(row), 0, -1) if row[i - 1] not in (None, "")), 0)) for line, row in rows)
    line, width = max(widths, key=lambda item: item[1], default=(None, 0))
    if width > MAX_COLUMNS:
        raise MaterialError(f"{place}line {line}: {width:,} columns, more than the {MAX_COLUMNS:,} a training log may have")


@dataclass(frozen=True)
class _Roles:
    """What each column is: the date (and how it reads), the athlete, the session's name, the rest."""

    columns: list[Column]
    date_at: int
    reader: DateReader
    athlete_at: int | None
    label_at: int | None


def _log_rows(table: _Table) -> list[LogRow]:
    body = [r for _, _, r in table.rows]
    dates = table.dates or date_column(table.header, body)
    if dates is None:
        raise MaterialError(_no_date_column([(0, table.header)] + [(0, r) for r in body]))
    columns = [_unless_all_zero(column(h, [r[i] for r in body if i < len(r)]), body, i) for i, h in enumerate(table.header)]
    roles = _Roles(columns, dates[0], dates[1], _first(columns, _ATHLETE, dates[0], whole=True), _first(columns, _LABEL, dates[0]))
    date_name = columns[roles.date_at].name or "date"
    out, extra = [], []
    for where, line, row in table.rows:
        if not any(c not in (None, "") and str(c).strip() for c in row):
            continue
        if len(row) > len(table.header):
            extra.append(where)
        value = row[roles.date_at] if roles.date_at < len(row) else None
        if value in (None, "") or not str(value).strip():
            table.problems.add(table.place, where, date_name, None, MISSING)
            continue
        day = roles.reader.read(value)
        if day is None:
            table.problems.add(table.place, where, date_name, value, NOT_A_DATE)
            continue
        out.append(_log_row(roles, row, day, value, line))
    if extra:
        table.warnings.append(f"{table.place}{extra[0]}: cells without a header ignored"
                              + (f" (and in {len(extra) - 1:,} more rows)" if len(extra) > 1 else ""))
    return out


def _log_row(roles: _Roles, row: list, day: dt.date, stamp, line: int | None) -> LogRow:
    fields, measures = [], {}
    for at, (col, value) in enumerate(zip(roles.columns, row)):
        if at in (roles.date_at, roles.athlete_at) or col.name is None or value in (None, "") or not str(value).strip():
            continue
        entry = (col.name, col.shown(value))
        if entry not in fields:
            fields.append(entry)
        number = col.normalise(value)
        if number is not None and col.measure not in measures:
            measures[col.measure] = number
    has_time = (isinstance(stamp, dt.datetime) and stamp.time() != dt.time(0)) or (isinstance(stamp, str) and ":" in stamp)
    return LogRow(date=day, stamp=str(stamp) if has_time else None, athlete=_cell(row, roles.athlete_at),
                  label=_cell(row, roles.label_at), fields=fields, measures=measures, line=line)


def _unless_all_zero(col: Column, body: list[list], at: int) -> Column:
    """An export's unused measure (Strong's Distance and Seconds on gym sets) is all zeros: left out."""
    values = [r[at] for r in body if at < len(r) and r[at] not in (None, "")]
    if col.measure and values and all(col.normalise(v) == 0 for v in values):
        return Column(None, None)
    return col


def _first(columns: list[Column], pattern: re.Pattern, exclude: int, whole: bool = False) -> int | None:
    match = pattern.fullmatch if whole else pattern.search
    return next((i for i, c in enumerate(columns) if i != exclude and c.name and match(c.name.strip())), None)


def _cell(row: list, at: int | None) -> str | None:
    if at is None or at >= len(row) or row[at] in (None, ""):
        return None
    return " ".join(str(row[at]).split()) or None


def _split_json(payload) -> tuple[dict, list]:
    if isinstance(payload, list):
        return {}, payload
    if isinstance(payload, dict):
        for value in payload.values():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                return payload, value
    return {}, []
