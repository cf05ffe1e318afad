"""Training logs (CSV, XLSX, JSON): every session row becomes a retrievable text with its date and figures."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import PurePosixPath

import openpyxl

from .decoding import decode_text
from .document import Block, Document, MaterialError

_DATE_HEADERS = {"date", "day", "дата", "день", "session date"}
_UNIT_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*[\(\[](?P<unit>[^\)\]]+)[\)\]]\s*$")
_UNIT_SUFFIXES = {"km": "km", "m": "m", "min": "min", "s": "s", "sec": "s", "bpm": "bpm", "kg": "kg", "h": "h"}
_SCALE = re.compile(r"^\d+\s*[-–]\s*(\d+)$")  # "RPE (1-10)" is a scale, not a unit
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%y")
# a training log has tens of columns; each row's text repeats every header, so a far wider line would
# multiply into megabytes of chunks
MAX_COLUMNS = 1000


def parse_csv(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    return _table_document(path, _stem_title(path), [(n, r) for n, r in enumerate(rows, start=1)])


def parse_xlsx(data: bytes, path: str) -> Document:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise MaterialError(f"unreadable XLSX: {exc}") from exc
    blocks, warnings = [], []
    for sheet in workbook.worksheets:
        rows = [(n, list(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1)]
        if not any(any(c not in (None, "") for c in r) for _, r in rows):
            continue
        try:
            part = _table_document(path, sheet.title, rows, location=f"sheet '{sheet.title}', ")
        except MaterialError as exc:
            warnings.append(f"sheet '{sheet.title}': {exc}")
            continue
        blocks += part.blocks
        warnings += part.warnings
    if not blocks:
        raise MaterialError("no training sessions found in any sheet" + (f" ({'; '.join(warnings)})" if warnings else ""))
    return Document(path=path, title=_stem_title(path), blocks=blocks, warnings=warnings)


def parse_json_log(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MaterialError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    context, records = _split_json(payload)
    if not records:
        raise MaterialError("no list of session records found in the JSON")
    title = str(context.get("camp") or context.get("title") or _stem_title(path))
    prefix = "; ".join(f"{_humanize(k)}: {v}" for k, v in context.items() if not isinstance(v, (list, dict)))
    blocks, warnings = [], []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            warnings.append(f"record {number}: not an object, skipped")
            continue
        cells = [(_header(k), v) for k, v in record.items()]
        block = _row_block(cells, f"record {number}", warnings, prefix)
        if block:
            blocks.append(block)
    if not blocks:
        raise MaterialError("no usable session records" + (f" ({'; '.join(warnings)})" if warnings else ""))
    return Document(path=path, title=title, blocks=blocks, warnings=warnings)


def _table_document(path: str, title: str, rows: list[tuple[int, list]], location: str = "") -> Document:
    _check_width(rows, location)
    header_at = next((i for i, (_, r) in enumerate(rows) if any(_is_date_header(c) for c in r)), None)
    if header_at is None:
        raise MaterialError("no date column found (expected a header such as 'Date' or 'Дата')")
    header = [_header(c) for c in rows[header_at][1]]
    # title rows above the header ("Training diary: Anna Petrova, April 2026") say whose log it is
    preamble = " ".join(" ".join(str(c) for c in r if c not in (None, "")) for _, r in rows[:header_at]).strip()
    blocks, warnings = [], []
    for line, row in rows[header_at + 1:]:
        if not any(c not in (None, "") and str(c).strip() for c in row):
            continue
        cells = list(zip(header, row))
        if len(row) > len(header):
            warnings.append(f"{location}line {line}: {len(row) - len(header)} extra cell(s) without a header ignored")
        block = _row_block(cells, f"{location}line {line}", warnings, preamble, line=line)
        if block:
            blocks.append(block)
    if not blocks:
        raise MaterialError("no session rows under the header" + (f" ({'; '.join(warnings)})" if warnings else ""))
    return Document(path=path, title=title, blocks=blocks, warnings=warnings)


def _check_width(rows: list[tuple[int, list]], location: str) -> None:
    # up to the last filled cell: a spreadsheet row formatted to its last column is not wide
    widths = ((line, next((i for i in range(len(row), 0, -1) if row[i - 1] not in (None, "")), 0)) for line, row in rows)
    line, width = max(widths, key=lambda item: item[1], default=(None, 0))
    if width > MAX_COLUMNS:
        raise MaterialError(f"{location}line {line}: {width:,} columns, more than the {MAX_COLUMNS:,} a training log may have")


def _row_block(cells, where: str, warnings: list[str], prefix: str, line: int | None = None) -> Block | None:
    date, parts = None, []
    for (name, unit), value in cells:
        if name is None or value in (None, ""):
            continue
        if _is_date_header(name):
            date = _date(value)
            if date is None:
                warnings.append(f"{where}, field '{name}': '{value}' is not a date; row skipped")
                return None
            continue
        shown = _format_value(value)
        scale = _SCALE.match(unit or "")
        if scale:
            parts.append(f"{name}: {shown}/{scale.group(1)}")
        else:
            parts.append(f"{name}: {shown}" + (f" {unit}" if unit and unit not in shown else ""))
    if date is None:
        warnings.append(f"{where}, field 'date': missing; row skipped")
        return None
    body = f"Training log {date}. " + ("; ".join(parts) + "." if parts else "")
    if prefix:
        body = f"{prefix}. {body}"
    return Block(text=body, group=f"{date} {where}", date=date, line=line, heading=date)


def _split_json(payload) -> tuple[dict, list]:
    if isinstance(payload, list):
        return {}, payload
    if isinstance(payload, dict):
        for value in payload.values():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                return payload, value
    return {}, []


def _header(raw) -> tuple[str | None, str | None]:
    if raw is None or not str(raw).strip():
        return None, None
    text = " ".join(str(raw).replace("\ufeff", "").split())
    match = _UNIT_IN_HEADER.match(text)
    if match:
        return match.group("name"), match.group("unit")
    stem, _, suffix = text.rpartition("_")
    if stem and suffix.lower() in _UNIT_SUFFIXES:
        return _humanize(stem), _UNIT_SUFFIXES[suffix.lower()]
    return _humanize(text), None


def _humanize(key: str) -> str:
    words = key.replace("_", " ").strip()
    words = re.sub(r"\bhr\b", "HR", words, flags=re.IGNORECASE)
    words = re.sub(r"\brpe\b", "RPE", words, flags=re.IGNORECASE)
    return words[:1].upper() + words[1:]


def _is_date_header(cell) -> bool:
    if isinstance(cell, tuple):
        cell = cell[0]
    return cell is not None and str(cell).strip().lower().lstrip("\ufeff") in _DATE_HEADERS


def _date(value) -> str | None:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _format_value(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.time):
        return value.strftime("%M:%S") if value.hour == 0 else value.strftime("%H:%M:%S")
    return " ".join(str(value).split())


def _stem_title(path: str) -> str:
    return PurePosixPath(path).stem.replace("_", " ")
