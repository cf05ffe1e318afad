"""Which index version is current, and its manifest: plain JSON files, read without numpy or FAISS, so that
`persona index` can answer "nothing changed" in a fraction of a second."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

CURRENT = "CURRENT"  # the file naming the current version; index_store switches it by one rename


def current_version(index_dir: Path) -> str | None:
    try:
        return (index_dir / CURRENT).read_text().strip() or None
    except FileNotFoundError:
        return None


def read_manifest(index_dir: Path) -> dict | None:
    version = current_version(index_dir)
    if version is None:
        return None
    return json.loads((index_dir / "versions" / version / "manifest.json").read_text())


def files_by_status(manifest: dict) -> Counter:
    """How many of the manifest's files were indexed and how many skipped."""
    return Counter(f["status"] for f in manifest["files"].values())
