"""BM25 tokens for a mixed Russian/English corpus: each word stemmed by the stemmer of its own script."""
from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# a day written as 2021-07-07 or 07.07.2021 is also one token: a question naming it must find that day's
# session, not every week summary whose span shares its year and month ("2021-07-05 to 2021-07-11")
_ISO_DAY = re.compile(r"(?<!\d)(\d{4})-(\d\d)-(\d\d)(?!\d)")
_DOTTED_DAY = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\d.])")
_CYRILLIC = re.compile(r"[а-я]")
_RUSSIAN = Stemmer.Stemmer("russian")
_ENGLISH = Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    words = _WORD.findall(text.lower().replace("ё", "е"))
    stop = _stopwords()
    return [_stem(w) for w in words if w not in stop] + days(text)


def days(text: str) -> list[str]:
    """The calendar days the text names, as "2021-07-07"."""
    found = [f"{y}-{m}-{d}" for y, m, d in _ISO_DAY.findall(text)]
    found += [f"{y}-{int(m):02d}-{int(d):02d}" for d, m, y in _DOTTED_DAY.findall(text) if int(m) <= 12]
    return found


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    # bm25s's lists, read on first use: importing bm25s pulls in scipy (0.1 s), which `persona index` pays
    # on every run that finds nothing changed
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_RUSSIAN

    return frozenset(STOPWORDS_EN) | frozenset(w.replace("ё", "е") for w in STOPWORDS_RUSSIAN)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return (_RUSSIAN if _CYRILLIC.search(word) else _ENGLISH).stemWord(word)
