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
    if _looks_like_utf16_without_bom(data):
        encoding = "utf-16-le" if data[1::2].count(0) > data[0::2].count(0) else "utf-16-be"
        return _checked(data.decode(encoding, errors="strict"), encoding)
    if b"\x00" in data:
        raise MaterialError("binary content (NUL bytes) in a text file")
    try:
        return _checked(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    guess = from_bytes(data).best()
    candidates = ([guess.encoding] if guess else []) + list(_CYRILLIC_FALLBACKS)
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if _mostly_letters(text):
            return _checked(text, encoding)
    raise MaterialError("could not detect the text encoding (not UTF-8, UTF-16, cp1251 or koi8-r)")


def _looks_like_utf16_without_bom(data: bytes) -> bool:
    sample = data[:4096]
    if len(sample) < 4:
        return False
    zeros_even = sample[0::2].count(0)
    zeros_odd = sample[1::2].count(0)
    half = len(sample) // 2
    return max(zeros_even, zeros_odd) > 0.3 * half and min(zeros_even, zeros_odd) < 0.05 * half


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
