"""Bytes to text with the encoding detected, never by dropping characters."""
from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from .document import MaterialError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Russian materials come from Windows editors as often as not; these are tried before a guess.
_CYRILLIC_FALLBACKS = ("cp1251", "koi8_r")


def decode_text(data: bytes) -> tuple[str, str]:
    """Return (text, encoding). Raises MaterialError for empty, binary or undecodable content."""
    if not data.strip():
        raise MaterialError("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data.decode(encoding), encoding)
    encoding = _utf16_without_bom(data)
    if encoding:
        try:
            return _checked(data.decode(encoding), encoding)
        except UnicodeDecodeError as exc:
            raise MaterialError(f"looks like UTF-16 but does not decode: {exc}") from exc
    if b"\x00" in data:
        raise MaterialError("binary content (NUL bytes) in a text file")
    try:
        return _checked(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    cyrillic = _best_cyrillic(data)
    if cyrillic:
        return _checked(*cyrillic)
    guess = from_bytes(data).best()
    if guess is not None:
        text = data.decode(guess.encoding)
        if _mostly_letters(text):
            return _checked(text, guess.encoding)
    raise MaterialError("could not detect the text encoding (not UTF-8, UTF-16, cp1251 or koi8-r)")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text keeps its high bytes in a handful of values (0x00 for Latin, 0x04 for Cyrillic)
    while the low bytes vary; no 8-bit encoding looks like that."""
    sample = data[:4096]
    if len(sample) < 8 or len(sample) % 2:
        return None
    even, odd = set(sample[0::2]), set(sample[1::2])
    if len(odd) <= 3 < len(even) and 0 in odd:
        return "utf-16-le"
    if len(even) <= 3 < len(odd) and 0 in even:
        return "utf-16-be"
    return None


def _best_cyrillic(data: bytes) -> tuple[str, str] | None:
    """cp1251 and koi8-r decode any byte string, so pick the one that reads as Russian: in real
    prose most Cyrillic letters are lower case, and the wrong code page swaps the cases."""
    best = None
    for encoding in _CYRILLIC_FALLBACKS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        letters = [ch for ch in text if "\u0400" <= ch <= "\u04ff"]
        if len(letters) < 10 or not _mostly_letters(text):
            continue
        lower = sum(ch.islower() for ch in letters) / len(letters)
        if lower > 0.6 and (best is None or lower > best[0]):
            best = (lower, text, encoding)
    return (best[1], best[2]) if best else None


def _mostly_letters(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    visible = sum(not ch.isspace() for ch in text) or 1
    return letters / visible > 0.5


def _checked(text: str, encoding: str) -> tuple[str, str]:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(8, len(text) // 100):
        raise MaterialError(f"binary content: {controls} control characters after decoding as {encoding}")
    if not text.strip():
        raise MaterialError("no text in file")
    return text, encoding
