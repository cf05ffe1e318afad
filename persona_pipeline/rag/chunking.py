"""Token-aware chunking that follows the document's structure and never exceeds the embedder's window."""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from itertools import groupby

from ..ingest.document import Block, Document

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# when a title and heading would leave a chunk fewer text tokens than this (a runaway heading), the text is
# sized as if they took only this many: the chunk stays whole for BM25 and the excerpt, while the embedder,
# whose window the heading overruns, reads less of it
MIN_TEXT_TOKENS = 16
# the overlap carried into the next chunk is at most this share of a chunk's budget
MAX_OVERLAP_SHARE = Fraction(1, 2)
# a sentence longer than the overlap is still carried, once, when it is at most this share of the budget
SMALL_SENTENCE_SHARE = Fraction(1, 3)


@dataclass
class Chunk:
    chunk_id: str
    source: str
    kind: str
    title: str
    heading: str | None
    location: dict
    text: str
    content_hash: str
    n_tokens: int

    @property
    def embed_text(self) -> str:
        """What the embedder and BM25 see: the text in the context of its title and heading."""
        return f"{_context(self.title, self.heading)}\n{self.text}"

    def location_label(self) -> str:
        loc = self.location
        if "page" in loc:
            return f"p. {loc['page']}"
        if "start" in loc:
            return f"{loc['start']}–{loc['end']}"
        if "date" in loc:
            return loc["date"] + (f", line {loc['line']}" if "line" in loc else "")
        return self.heading or (f"line {loc['line']}" if "line" in loc else "")

    def to_json(self) -> dict:
        # a shallow copy: dataclasses.asdict deep-copies every field, a third of writing a million chunks
        return dict(vars(self))


class Chunker:
    """`count_tokens(text)` counts the embedder's tokens without special tokens; `window` is the
    embedder's maximum sequence length, special tokens included."""

    def __init__(self, count_tokens, window: int, special_tokens: int = 2):
        self.count_tokens = count_tokens
        self.window = window
        self.special = special_tokens

    def chunk(self, document: Document, kind: str, chunk_tokens: int, overlap_tokens: int) -> list[Chunk]:
        chunks: list[Chunk] = []
        for _, blocks in groupby(document.blocks, key=lambda b: b.group):
            blocks = list(blocks)
            heading = blocks[0].heading
            context_tokens = self.count_tokens(_context(document.title, heading)) + 1
            budget = min(chunk_tokens, self.window - self.special - context_tokens)
            if budget < MIN_TEXT_TOKENS:
                budget = max(MIN_TEXT_TOKENS, self.window - self.special - MIN_TEXT_TOKENS)
            units = [u for block in blocks for u in self._units(block, budget)]
            for piece in self._pack(units, budget, min(overlap_tokens, math.floor(budget * MAX_OVERLAP_SHARE))):
                chunks.append(self._make(document, kind, heading, piece, len(chunks)))
        return chunks

    def _units(self, block: Block, budget: int) -> list[tuple[str, int, Block]]:
        """Split a block into pieces of at most `budget` tokens: whole, else sentences, else token windows."""
        n = self.count_tokens(block.text)
        if n <= budget:
            return [(block.text, n, block)]
        out = []
        for sentence in _SENTENCE_END.split(block.text):
            size = self.count_tokens(sentence)
            if size <= budget:
                out.append((sentence, size, block))
            else:
                out.extend((w, self.count_tokens(w), block) for w in self._windows(sentence, budget))
        return out

    def _windows(self, text: str, budget: int) -> list[str]:
        words, out, current = text.split(), [], []
        for word in words:
            if current and self.count_tokens(" ".join(current + [word])) > budget:
                out.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            out.append(" ".join(current))
        # a single "word" longer than the budget (a URL, a run of digits) is cut by characters
        return [piece for part in out for piece in self._cut_long_word(part, budget)]

    def _cut_long_word(self, text: str, budget: int) -> list[str]:
        if self.count_tokens(text) <= budget:
            return [text]
        half = len(text) // 2
        return self._cut_long_word(text[:half], budget) + self._cut_long_word(text[half:], budget)

    def _pack(self, units, budget: int, overlap: int):
        small_sentence = math.floor(budget * SMALL_SENTENCE_SHARE)
        start = 0
        while start < len(units):
            end, total = start, 0
            while end < len(units) and total + units[end][1] + (1 if end > start else 0) <= budget:
                total += units[end][1] + (1 if end > start else 0)
                end += 1
            end = max(end, start + 1)
            yield units[start:end]
            if end >= len(units):
                return
            back, carried = end, 0
            while back - 1 > start and overlap and (
                    carried + units[back - 1][1] <= overlap
                    or (carried == 0 and units[back - 1][1] <= small_sentence)):
                back -= 1
                carried += units[back][1]
            start = back

    def _make(self, document: Document, kind: str, heading: str | None, piece, ordinal: int) -> Chunk:
        text = piece[0][0]
        for (previous, unit) in zip(piece, piece[1:]):
            # pieces of one block (sentences) join with a space, blocks (paragraphs) with a newline
            text += (" " if unit[2] is previous[2] or unit[2].start else "\n") + unit[0]
        first, last = piece[0][2], piece[-1][2]
        location = {}
        if first.page is not None:
            location["page"] = first.page
        if first.start is not None:
            location["start"], location["end"] = first.start, last.end
        if first.date is not None:
            location["date"] = first.date
        if first.line is not None:
            location["line"] = first.line
        chunk = Chunk(
            chunk_id=f"{document.path}#{ordinal}", source=document.path, kind=kind, title=document.title,
            heading=heading, location=location, text=text, content_hash="", n_tokens=0,
        )
        chunk.content_hash = hashlib.sha256(chunk.embed_text.encode()).hexdigest()
        chunk.n_tokens = self.count_tokens(chunk.embed_text) + self.special
        return chunk


def _context(title: str, heading: str | None) -> str:
    return title if not heading or heading == title else f"{title} — {heading}"
