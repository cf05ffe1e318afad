"""Which files in the materials folder become which knowledge, and which are skipped and why."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .guards import link_refusal

if TYPE_CHECKING:  # `persona index`'s up-to-date check uses this module and stays clear of pydantic
    from ..rag_config import RagConfig


@dataclass(frozen=True)
class SourceFile:
    path: str          # relative to the materials folder, POSIX separators
    kind: str | None   # knowledge type, None when no type claims the file
    parser: str | None
    sha256: str
    size: int


@dataclass(frozen=True)
class Skipped:
    path: str
    kind: str | None
    reason: str
    sha256: str | None = None


def list_material_files(materials_dir: Path) -> list[Path]:
    """Every file, and every symbolic link (to a folder, broken, or leading outside) so that it is reported."""
    if not materials_dir.is_dir():
        return []
    return sorted(p for p in materials_dir.rglob("*") if p.is_file() or p.is_symlink())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def classify(materials_dir: Path, config: RagConfig) -> tuple[list[SourceFile], list[Skipped]]:
    """Assign each file a knowledge type and parser; report the rest (unknown type or extension,
    too large, exact duplicates of an earlier file)."""
    accepted, skipped, seen = [], [], {}
    # links after plain files, so that a link to a file inside is the one reported as the duplicate
    for absolute in sorted(list_material_files(materials_dir), key=Path.is_symlink):
        rel = absolute.relative_to(materials_dir).as_posix()
        refusal = link_refusal(absolute, materials_dir)
        if refusal:
            skipped.append(Skipped(rel, None, refusal))
            continue
        kind = next((t for t in config.knowledge_types.values() if any(_glob(g).match(rel) for g in t.globs)), None)
        kind = kind or config.type_by_extension(absolute.suffix.lower().lstrip("."))
        if kind is None:
            skipped.append(Skipped(rel, None, "not covered by any knowledge type in the config"))
            continue
        ext = absolute.suffix.lower().lstrip(".")
        parser = kind.formats.get(ext)
        if parser is None:
            known = ", ".join(sorted(kind.formats))
            skipped.append(Skipped(rel, kind.name, f"unsupported extension '.{ext}' for {kind.name} (expected one of: {known})"))
            continue
        size = absolute.stat().st_size
        if size > config.limits.max_file_bytes:
            skipped.append(Skipped(rel, kind.name, f"file too large: {size / 2**20:.1f} MiB > limit {config.limits.max_file_bytes / 2**20:.0f} MiB"))
            continue
        sha = file_sha256(absolute)
        if sha in seen:
            skipped.append(Skipped(rel, kind.name, f"duplicate of {seen[sha]}", sha))
            continue
        seen[sha] = rel
        accepted.append(SourceFile(rel, kind.name, parser, sha, size))
    return accepted, skipped


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def snapshot(materials_dir: Path, previous: dict[str, list] | None = None) -> dict[str, list]:
    """{path: [size, mtime_ns, sha256]} for every file. A file whose size and mtime did not change
    reuses its previous hash, so a poll does not re-read an unchanged folder; a touched file is
    re-hashed and, its content being the same, leaves the content digest unchanged."""
    previous = previous or {}
    state = {}
    for absolute in list_material_files(materials_dir):
        rel = absolute.relative_to(materials_dir).as_posix()
        if absolute.is_symlink():
            state[rel] = _link_state(absolute)
            continue
        stat = absolute.stat()
        known = previous.get(rel)
        if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
            state[rel] = known
        else:
            state[rel] = [stat.st_size, stat.st_mtime_ns, file_sha256(absolute)]
    return state


def _link_state(link: Path) -> list:
    """A link is known by where it points, never by reading what it points at (that may be outside the
    folder); a link to a file inside changes with that file, which is listed too."""
    stat = link.lstat()
    return [stat.st_size, stat.st_mtime_ns, hashlib.sha256(f"link:{os.readlink(link)}".encode()).hexdigest()]


def content_digest(state: dict[str, list]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(state):
        digest.update(f"{rel}\0{state[rel][2]}\n".encode())
    return digest.hexdigest()
