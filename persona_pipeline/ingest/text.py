"""Plain text and markdown: paragraphs grouped under their headings."""
from __future__ import annotations

import re
from pathlib import PurePosixPath

from . import markup
from .decoding import decode_text
from .document import Block, Document, MaterialError

FENCES = ("```", "~~~")
MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# a sub-heading is read under the headings above it: "13 August 2021 › NOTES"
HEADING_TRAIL = " › "
MD_INLINE = re.compile(r"(\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w))")
# a link or an image reads as its text: "[smoky haze](javascript:flkty.select(2);)" is "smoky haze"
# (a title after the address, quoted or not, and one level of parentheses inside it included)
MD_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")


def markdown_text(text: str) -> str:
    """Markdown inline markup (emphasis, code marks, links, images) as the words a reader sees."""
    return MD_INLINE.sub("", MD_LINK.sub(r"\1", text))


def nested(trail: list[tuple[int, str]], level: int, heading: str) -> list[tuple[int, str]]:
    """The (level, heading) trail once `heading` opens at `level`: it closes those at its level or below."""
    return [(lv, h) for lv, h in trail if lv < level] + [(level, heading)]


def parse_text(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    found = paragraphs(text)
    title = stem_title(path)
    first_text = found[0][0]
    if len(found) > 1 and len(first_text) < 120 and "\n" not in first_text and not first_text.endswith("."):
        title = first_text
    blocks, heading = [], None
    for body, line in found:
        if is_plain_heading(body):
            heading = body
            continue
        blocks.append(Block(text=body, group=heading or "", heading=heading, line=line))
    return _document(path, title, blocks)


def parse_markdown(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    fields, text = markup.split_front_matter(text)
    title, heading, blocks = markup.front_matter_title(fields) or stem_title(path), None, []
    for body, line in paragraphs(text, markdown=True):
        first, _, rest = body.partition("\n")
        match = MD_HEADING.match(first)
        if match:
            if len(match.group(1)) == 1 and title == stem_title(path):
                title = match.group(2)
            else:
                heading = match.group(2)
            if not rest.strip():
                continue
            body, line = rest, line + 1
        blocks.append(Block(text=body, group=heading or "", heading=heading, line=line))
    return _document(path, title, blocks)


def paragraphs(text: str, markdown: bool = False) -> list[tuple[str, int]]:
    """Split on blank lines; each paragraph keeps the 1-based line it starts on. In Markdown a heading
    starts a paragraph of its own even without a blank line before it, as CommonMark reads it (outside
    code fences), and inline markup becomes its words (markdown_text). HTML inside a paragraph becomes
    text (markup.py); a paragraph that was only markup (an image, a script) is left out."""
    out, current, start, fence = [], [], 1, None  # fence: the marker of the code fence open now
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        line = raw.strip()
        if markdown:
            fence = _fence_after(line, fence)
        if not line or (markdown and fence is None and current and MD_HEADING.match(line)):
            if current:
                out.append(("\n".join(current), start))
            current = []
            if not line:
                continue
        if not current:
            start = number
        current.append(line)
    if current:
        out.append(("\n".join(current), start))
    readable = (lambda body: markdown_text(markup.to_text(body))) if markdown else markup.to_text
    out = [(body, line) for body, line in ((readable(body), line) for body, line in out) if body.strip()]
    if not out:
        raise MaterialError("no text in file")
    return out


def _fence_after(line: str, fence: str | None) -> str | None:
    """The code fence open after `line`: ``` or ~~~ opens one ("```x```" is inline code) and only the same
    marker closes it."""
    if fence is not None:
        return None if line.startswith(fence) else fence
    for marker in FENCES:
        if line.startswith(marker) and marker not in line[len(marker):]:
            return marker
    return None


def is_plain_heading(paragraph: str) -> bool:
    return len(paragraph) < 80 and "\n" not in paragraph and not paragraph.rstrip().endswith((".", "!", "?", ":", ";", ","))


def stem_title(path: str) -> str:
    return PurePosixPath(path).stem.replace("_", " ")


def _document(path: str, title: str, blocks: list[Block]) -> Document:
    if not blocks:
        raise MaterialError("no body text (only headings)")
    return Document(path=path, title=title, blocks=blocks)
