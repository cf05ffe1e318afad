"""Which segments a new index version is made of.

A version is a list of immutable segments (chunk store, BM25 postings, vector ids and, with FAISS, the
vectors) and the rows of them that are dead. A new version hard-links the previous version's segments,
marks the rows whose chunks left or changed as dead, and writes one new segment holding only what is new,
so its cost follows the change, not the corpus. It rewrites everything into one segment instead when the
previous version cannot be continued or when the segments would get too many or too dead to search well.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunking import Chunk

SEGMENTS = "segments"
IDS_FILE, KEYS_FILE = "ids.npy", "keys.npy"   # per row: vector id, and the key of the chunk's id and content
DEAD_FILE = "dead.npz"                        # per version: segment name -> its dead rows
# a version adds a segment until it would hold more than this many; then it rewrites all into one
MAX_SEGMENTS = 8
# or until more than this share of its rows would be dead (each search skips them, each load reads them)
MAX_DEAD_SHARE = 0.25


def hash63(text: str) -> int:
    """A 63-bit hash: FAISS and Qdrant ids are signed 64-bit integers."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") & (2**63 - 1)


def content_key(chunk: Chunk) -> int:
    """Changes when any field of the chunk does (its text, but also its knowledge type or location, which
    a citation and a type filter read): a kept row must be the chunk this version would write."""
    return hash63("\0".join(map(str, vars(chunk).values())))


@dataclass
class SegmentPlan:
    kept: list[dict] = field(default_factory=list)          # previous manifest's segment entries to link
    dead: dict[str, np.ndarray] = field(default_factory=dict)  # kept segment -> its dead rows
    new_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # chunks to write anew


def plan(keys: np.ndarray, previous: dict | None, previous_folder: Path | None, continues: bool) -> SegmentPlan:
    """`keys` are the new version's chunks' keys, in order. Continue the previous version's segments when
    `continues` (same model and store) and the result stays within MAX_SEGMENTS and MAX_DEAD_SHARE."""
    everything = SegmentPlan(new_rows=np.arange(len(keys)))
    if not continues or previous_folder is None:
        return everything
    dead_before = read_dead(previous_folder)
    kept, dead, covered, rows, dead_rows = [], {}, np.zeros(len(keys), dtype=bool), 0, 0
    for entry in previous["segments"]:
        segment_keys = np.load(previous_folder / SEGMENTS / entry["name"] / KEYS_FILE)
        alive = np.ones(len(segment_keys), dtype=bool)
        alive[dead_before.get(entry["name"], [])] = False
        wanted = alive & np.isin(segment_keys, keys)
        if not wanted.any():
            continue  # nothing of it is left: not linked at all
        covered |= np.isin(keys, segment_keys[wanted])
        kept.append(entry)
        dead[entry["name"]] = np.flatnonzero(~wanted)
        rows, dead_rows = rows + len(segment_keys), dead_rows + int((~wanted).sum())
    new_rows = np.flatnonzero(~covered)
    if len(kept) + bool(len(new_rows)) > MAX_SEGMENTS or dead_rows > MAX_DEAD_SHARE * (rows + len(new_rows)):
        return everything
    return SegmentPlan(kept, dead, new_rows)


def read_dead(version_folder: Path) -> dict[str, np.ndarray]:
    path = version_folder / DEAD_FILE
    if not path.exists():
        return {}
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


def write_dead(version_folder: Path, dead: dict[str, np.ndarray]) -> None:
    np.savez(version_folder / DEAD_FILE, **{name: rows for name, rows in dead.items() if len(rows)})


def link_segment(source: Path, target: Path) -> None:
    """Share an immutable segment between versions by hard links (a copy where links are not possible);
    pruning a version then removes only its names for the files."""
    target.mkdir(parents=True)
    for file in source.iterdir():
        try:
            os.link(file, target / file.name)
        except OSError:
            shutil.copy2(file, target / file.name)
