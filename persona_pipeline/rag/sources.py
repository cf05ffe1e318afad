"""What the current index was built from, so that `persona index` can tell in a fraction of a second,
without starting Dagster or any model, that nothing changed since.

The fingerprint covers the materials (path and content hash of every file, hashed only when its size or
mtime moved), the knowledge config file, the materials folder and the code that parses and chunks.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..atomic import write_text
from ..code_fingerprint import code_fingerprint
from ..ingest.discovery import content_digest, snapshot
from ..settings import Paths
from .index_pointer import current_version, files_by_status

SNAPSHOT = "materials_snapshot.json"   # taken when a build starts
BUILT_FROM = "built_from.json"         # the snapshot of the last build that finished, with its index summary
# what decides the index's content besides the materials and the config
BUILD_CODE = ("ingest", "rag/chunking.py", "rag/build.py", "rag/index_store.py", "rag/index_pointer.py",
              "rag/index_segments.py", "rag/lexical.py", "rag/lexicon.py")


def _fingerprint(paths: Paths, files: dict) -> str:
    config = paths.config_path.read_bytes() if paths.config_path.exists() else b""
    parts = (str(paths.materials_dir), hashlib.sha256(config).hexdigest(), content_digest(files), code_fingerprint(*BUILD_CODE))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _current(paths: Paths) -> dict:
    """This moment's snapshot, re-hashing only files whose size or mtime differ from the last build's."""
    files = snapshot(paths.materials_dir, _read(paths.knowledge_dir / BUILT_FROM).get("files"))
    return {"fingerprint": _fingerprint(paths, files), "files": files}


def take_snapshot(paths: Paths) -> None:
    write_text(paths.knowledge_dir / SNAPSHOT, json.dumps(_current(paths)))


def record_build(paths: Paths, manifest: dict) -> None:
    """The index version in `manifest` now holds the materials as they were when this build took its snapshot."""
    taken = _read(paths.knowledge_dir / SNAPSHOT)
    if not taken:
        return
    files = manifest["files"]
    summary = {"version": manifest["version"], "chunks": manifest["chunks"], "files_indexed": files_by_status(manifest)["indexed"],
               "skipped": {p: f.get("reason", "") for p, f in files.items() if f["status"] == "skipped"}}
    write_text(paths.knowledge_dir / BUILT_FROM, json.dumps({**taken, "index": summary}))


def unchanged_since_last_build(paths: Paths) -> dict | None:
    """The summary of the current index version if it was built from exactly what is on disk now, else None."""
    built = _read(paths.knowledge_dir / BUILT_FROM)
    current = current_version(paths.index_dir)
    if current is None or not built or built["index"]["version"] != current:
        return None
    if _current(paths)["fingerprint"] != built["fingerprint"]:
        return None
    return built["index"]
