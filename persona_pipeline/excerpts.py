"""Excerpts shortened for a terminal line: cut between words, never inside a character.

A text may hold a letter as a base and a combining mark ("й" written as "и" + U+0306, as some PDF and
Word exports do); cutting between the two leaves a stray mark that terminals draw as "�". The text is
composed first (NFC) and cut at the last space before the limit, or, in one long word, before the limit at
a grapheme boundary.
"""
from __future__ import annotations

import unicodedata

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters plus an ellipsis when something was cut."""
    flat = " ".join(unicodedata.normalize("NFC", text).split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit + 1)
    if cut <= 0:
        cut = limit
        while cut > 0 and unicodedata.combining(flat[cut]):
            cut -= 1  # a mark left without its letter: move the cut before the letter
    return flat[:cut].rstrip() + ELLIPSIS
