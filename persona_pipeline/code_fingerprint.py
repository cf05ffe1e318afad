"""Hashes of the package's own source files, for caches and indexes that must not outlive the code that
made them."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def code_fingerprint(*parts: str) -> str:
    """Hash of the source files under these package paths: a change to a parser or to the chunker
    invalidates what was cached from the old code, with no version number to forget to bump."""
    digest = hashlib.sha256()
    for part in parts:
        target = PACKAGE / part
        for file in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            digest.update(file.relative_to(PACKAGE).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()
