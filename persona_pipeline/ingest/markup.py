"""What blogs really put in markdown and text files: a YAML front matter block (Jekyll, Hugo) and HTML inside
the body (tables, paragraphs, entities). Both become plain text before paragraphs are chunked, so an excerpt
reads "Day 3 | 145 km | 6:20", not `</td><td>&nbsp;</td>`.
"""
from __future__ import annotations

import html
import re

import yaml

# a front matter block: "---" on the first line, closed by "---" (or Hugo's "...") on a line of its own
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
# tags that make a paragraph HTML rather than markdown that happens to hold a "<"
_HTML_TAG = re.compile(r"</?(?:table|thead|tbody|tfoot|tr|td|th|p|div|br|span|a|img|ul|ol|li|h[1-6]|strong|em|b|i|u|"
                       r"iframe|blockquote|figure|figcaption|sup|sub|hr|pre|code|center|font|small|section|article)"
                       r"\b[^>]*>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);", re.IGNORECASE)
_INVISIBLE = re.compile(r"<(script|style|iframe|noscript)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_CELL_END = re.compile(r"</t[dh]\s*>", re.IGNORECASE)
_LINE_BREAK = re.compile(r"<br\s*/?>|</?(?:p|div|li|tr|table|thead|tbody|tfoot|ul|ol|h[1-6]|blockquote|pre|figure|"
                         r"figcaption|section|article|center)\b[^>]*>|<hr\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]+>")
CELL = "\t"
CELL_SEPARATOR = " | "


def split_front_matter(text: str) -> tuple[dict, str]:
    """The front matter's fields and the text with the block blanked line for line, so that every line of the
    body keeps its number in the file."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        fields = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError:
        return {}, text  # a "---" rule that opens the file, not front matter
    if not isinstance(fields, dict):
        return {}, text
    return fields, "\n" * match.group(0).count("\n") + text[match.end():]


def front_matter_title(fields: dict) -> str | None:
    title = fields.get("title")
    return " ".join(html.unescape(str(title)).split()) or None if title else None


def to_text(paragraph: str) -> str:
    """A paragraph with its HTML made text: a table row per line with its non-empty cells joined by " | ",
    block elements on lines of their own, other tags dropped, entities decoded. Plain paragraphs pass
    unchanged apart from entities."""
    if not _HTML_TAG.search(paragraph):
        return html.unescape(paragraph) if _ENTITY.search(paragraph) else paragraph
    text = _INVISIBLE.sub(" ", paragraph)
    text = _CELL_END.sub(CELL, text)
    text = _LINE_BREAK.sub("\n", text)
    text = html.unescape(_ANY_TAG.sub("", text)).replace("\u00a0", " ")
    lines = []
    for line in text.split("\n"):
        cells = [" ".join(cell.split()) for cell in line.split(CELL)]
        line = CELL_SEPARATOR.join(cell for cell in cells if cell)
        if line:
            lines.append(line)
    return "\n".join(lines)
