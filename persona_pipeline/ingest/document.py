"""The shape every parser returns."""
from __future__ import annotations

from dataclasses import dataclass, field


class MaterialError(Exception):
    """A file that cannot be read at all; the message says why in one line, `details` lists every
    problem behind it (one per row) for the file's report."""

    def __init__(self, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.details = details or []


@dataclass
class Block:
    """The smallest structural unit of a document: a paragraph, a page's text, a subtitle cue, a log row.

    Blocks with the same `group` may be packed into one chunk (paragraphs under one heading, cues of
    one transcript); blocks of different groups never are (two pages, two training days).
    """

    text: str
    group: str
    heading: str | None = None
    page: int | None = None
    start: str | None = None
    end: str | None = None
    date: str | None = None
    line: int | None = None


@dataclass
class Document:
    path: str
    title: str
    blocks: list[Block]
    warnings: list[str] = field(default_factory=list)   # one line per kind of problem
    details: list[str] = field(default_factory=list)    # every problem, one per row, for the report
