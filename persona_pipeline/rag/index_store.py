"""The knowledge index on disk: BM25 + chunk store + manifest, one immutable folder per version, and the
dense vectors in a vector store (FAISS files in the version's segments by default, or a Qdrant collection).
A new version is written beside the old one and becomes current by one atomic rename, so a crash
mid-write leaves the previous version loadable and readers never see half an index. A version is made
of segments that later versions share (index_segments.py), so writing one costs what changed."""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import shutil
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import remove_leftovers, staged_dir, write_text
from ..code_fingerprint import code_fingerprint
from ..faults import fault_point
from . import index_segments
from .chunking import Chunk
from .index_pointer import CURRENT, current_version, read_manifest
from .index_segments import SEGMENTS, content_key, hash63
from .lexical import tokenize
from .lexicon import Lexicon, Postings, write_postings
from .vector_store import DenseVectors, VectorStore, VectorStoreUnavailable, VersionInfo, open_vectors

CHUNKS_FILE = "chunks.jsonl"
# the layout of a version folder: segments (index_segments.py) since 2; part of the content digest, so an
# index of another layout is rewritten, not kept as unchanged
FORMAT = 2
# the current version and the one it replaced (a reader may still hold it open)
KEEP_VERSIONS = 2


class IndexNotFound(Exception):
    """No index version yet, or the store holding its vectors cannot be opened."""


@dataclass
class KnowledgeIndex:
    version: str
    path: Path
    manifest: dict
    vectors: DenseVectors
    chunks: dict[int, Chunk]  # the live chunks by vector id
    lexicon: Lexicon

    @property
    def dim(self) -> int:
        return self.vectors.dim


def chunk_vector_id(chunk_id: str) -> int:
    """Stable across rebuilds and unique across files (the path is part of the chunk id)."""
    return hash63(chunk_id)


def lexical_code() -> str:
    """The code that turns text into BM25 postings: a segment written by other code is not kept. Read when
    a version is written, not when the module is imported (`persona ask` imports it too)."""
    return code_fingerprint("rag/lexical.py", "rag/lexicon.py")


def content_digest(model: str, keys: np.ndarray, files: dict, store: dict) -> str:
    """Of everything a version holds: `keys` are its chunks' content keys, in order."""
    digest = hashlib.sha256(json.dumps([model, store], sort_keys=True).encode())
    digest.update(np.ascontiguousarray(keys, dtype=np.int64).tobytes())
    digest.update(json.dumps(files, sort_keys=True).encode())
    return digest.hexdigest()


@contextmanager
def writer_lock(index_dir: Path):
    """Two writers (a sensor run and a CLI run) never build versions at the same time."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_index(index_dir: Path, chunks: list[Chunk], vectors: np.ndarray, *, model: str, dim: int,
                files: dict, store: VectorStore) -> tuple[dict, bool]:
    """Write a new version unless the content is the same as the current one.
    Returns (manifest, written)."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    keys = np.array([content_key(c) for c in chunks], dtype=np.int64)
    lexical = lexical_code()
    digest = content_digest(model, keys, files, {**store.describe(), "format": FORMAT, "lexical": lexical})
    with writer_lock(index_dir):
        versions = index_dir / "versions"
        for folder in (index_dir, versions):
            remove_leftovers(folder)
        fault_point("index:locked")
        existing = read_manifest(index_dir)
        if existing and existing.get("digest") == digest:
            _prune(versions, existing)  # what a writer killed after switching CURRENT did not remove
            return existing, False
        version = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}-{digest[:8]}"
        info = VersionInfo(generation=(existing or {}).get("generation", 0) + 1, model=model, previous_manifest=existing,
                           previous_folder=versions / existing["version"] if existing else None)
        with staged_dir(versions / version) as staging:
            manifest = _write_version(staging, version, digest, chunks, keys, vectors.reshape(len(chunks), dim), model,
                                      files, store, info, lexical)
        fault_point("index:version-renamed")
        write_text(index_dir / CURRENT, version)
        fault_point("index:current-switched")
        store.after_switch(oldest_kept_generation=info.generation - (KEEP_VERSIONS - 1))
        _prune(versions, manifest)
        return manifest, True


def _write_version(folder: Path, version: str, digest: str, chunks: list[Chunk], keys: np.ndarray, vectors: np.ndarray,
                   model: str, files: dict, store: VectorStore, info: VersionInfo, lexical: str) -> dict:
    ids = np.array([chunk_vector_id(c.chunk_id) for c in chunks], dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("vector id collision between chunks; rename one of the colliding files")
    previous = info.previous_manifest
    # kept segments must hold what this version would write for the same chunks: same vectors, same postings
    continues = bool(previous) and previous.get("format") == FORMAT and previous.get("lexical") == lexical and \
        previous.get("embedding_model") == model and previous.get("dim") == vectors.shape[1] and \
        previous["vector_store"]["kind"] == store.describe()["kind"]
    plan = index_segments.plan(keys, previous, info.previous_folder, continues)
    segments = []
    for entry in plan.kept:
        index_segments.link_segment(info.previous_folder / SEGMENTS / entry["name"], folder / SEGMENTS / entry["name"])
        segments.append({**entry, "dead": len(plan.dead[entry["name"]])})
    stored = None
    if not store.segmented:  # the store keeps the version's vectors itself, all of them at once
        stored = store.write(folder, info, chunks, vectors, ids)
        fault_point("index:vectors-written")
    if len(plan.new_rows) or not segments:
        rows = plan.new_rows
        segment = _write_segment(folder / SEGMENTS / version, [chunks[r] for r in rows], vectors[rows], ids[rows],
                                 keys[rows], store, info)
        segments.append({"name": version, "rows": len(rows), "dead": 0, **segment})
    index_segments.write_dead(folder, plan.dead)
    if stored is None:
        stored = {**store.describe(), "index": " + ".join(s["layout"] for s in segments), "vectors": len(chunks)}
    manifest = {
        "version": version, "generation": info.generation, "format": FORMAT, "lexical": lexical, "digest": digest,
        "created": dt.datetime.now(dt.UTC).isoformat(), "embedding_model": model, "dim": vectors.shape[1],
        "vectors": stored.pop("vectors"), "vector_store": stored, "segments": segments, "chunks": len(chunks),
        "chunks_by_type": dict(Counter(chunk.kind for chunk in chunks)), "files": files,
        "replaces": previous["version"] if previous else None,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return manifest


def _write_segment(folder: Path, chunks: list[Chunk], vectors: np.ndarray, ids: np.ndarray, keys: np.ndarray,
                   store: VectorStore, info: VersionInfo) -> dict:
    folder.mkdir(parents=True)
    layout = {}
    if store.segmented:
        layout = {"layout": store.write(folder, info, chunks, vectors, ids)["index"]}
        fault_point("index:vectors-written")
    with open(folder / CHUNKS_FILE, "w", encoding="utf-8") as out:
        for chunk in chunks:
            out.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
    fault_point("index:chunks-written")
    write_postings(folder, [tokenize(c.embed_text) for c in chunks])
    np.save(folder / index_segments.IDS_FILE, ids)
    np.save(folder / index_segments.KEYS_FILE, keys)
    fault_point("index:bm25-written")
    return layout


def load_index(index_dir: Path) -> KnowledgeIndex:
    version = current_version(index_dir)
    if version is None:
        raise IndexNotFound(f"no knowledge index in {index_dir}: materialize the knowledge_index asset "
                            "(`persona index` or the Dagster UI) first")
    folder = index_dir / "versions" / version
    manifest = json.loads((folder / "manifest.json").read_text())
    if manifest.get("format") != FORMAT:
        raise IndexNotFound(f"index version {version} was written by an earlier release in another layout: "
                            "re-run `persona index` (or materialize knowledge_index) to rewrite it")
    dead = index_segments.read_dead(folder)
    chunks: dict[int, Chunk] = {}
    postings, live, ids, kinds, dead_ids = [], [], [], [], {}
    for entry in manifest["segments"]:
        segment = folder / SEGMENTS / entry["name"]
        segment_ids = np.load(segment / index_segments.IDS_FILE)
        alive = np.ones(len(segment_ids), dtype=bool)
        alive[dead.get(entry["name"], [])] = False
        segment_kinds = []
        with open(segment / CHUNKS_FILE, encoding="utf-8") as rows:
            for row, line in enumerate(rows):
                fields = json.loads(line)
                segment_kinds.append(fields["kind"])
                if alive[row]:
                    chunks[int(segment_ids[row])] = Chunk(**fields)
        postings.append(Postings.read(segment))
        live.append(alive)
        ids.append(segment_ids)
        kinds.append(np.array(segment_kinds, dtype=object))
        dead_ids[entry["name"]] = segment_ids[~alive]
    try:
        vectors = open_vectors(folder, manifest, chunks, dead_ids)
    except VectorStoreUnavailable as exc:
        raise IndexNotFound(f"index version {version}: {exc}") from exc
    return KnowledgeIndex(version, folder, manifest, vectors, chunks, Lexicon(postings, live, ids, kinds))


def _prune(versions: Path, current: dict) -> None:
    """Keep the current version and the one it replaced (a reader may still hold it open); remove the rest,
    a version that a killed writer finished but never made current included."""
    keep = {current["version"], current.get("replaces")}
    for old in sorted(versions.iterdir()):
        if not old.name.startswith(".") and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
            fault_point("index:pruning")
