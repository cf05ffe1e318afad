"""Rows a log could not use, said once per kind of problem instead of once per row.

An export with one wrong column fails on every row the same way; 4,800 copies of one message bury it.
The summary groups rows by (place, field, problem); the full list, a line per row, goes to the file's
report in the data folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field

_EXAMPLES = 2
NOT_A_DATE, MISSING = "not a date", "missing"
# how a problem reads for one row and for many
_PHRASES = {NOT_A_DATE: ("is not a date", "are not dates"), MISSING: ("missing", "missing")}


@dataclass(frozen=True)
class RowProblem:
    place: str        # "" or "sheet 'April', " : where in the file, before the line
    line: str         # "line 3" or "record 4"
    field: str
    value: str | None
    problem: str      # NOT_A_DATE or MISSING


@dataclass
class RowProblems:
    items: list[RowProblem] = field(default_factory=list)

    def add(self, place: str, line: str, field_name: str, value, problem: str) -> None:
        shown = None if value in (None, "") else " ".join(str(value).split())
        self.items.append(RowProblem(place, line, field_name, shown, problem))

    def details(self) -> list[str]:
        return [_one(p) for p in self.items]

    def summary(self) -> list[str]:
        groups: dict[tuple, list[RowProblem]] = {}
        for item in self.items:
            groups.setdefault((item.place, item.field, item.problem), []).append(item)
        return [_one(rows[0]) if len(rows) == 1 else _many(rows) for rows in groups.values()]


def _one(item: RowProblem) -> str:
    value = f"'{item.value}' " if item.value is not None else ""
    return f"{item.place}{item.line}, field '{item.field}': {value}{_PHRASES[item.problem][0]}; row skipped"


def _many(rows: list[RowProblem]) -> str:
    first = rows[0]
    examples = list(dict.fromkeys(r.value for r in rows if r.value is not None))[:_EXAMPLES]
    values = f" values such as {', '.join(repr(v) for v in examples)}" if examples else ""
    return f"{len(rows):,} rows skipped: {first.place}'{first.field}'{values} {_PHRASES[first.problem][1]}; first at {first.line}"
