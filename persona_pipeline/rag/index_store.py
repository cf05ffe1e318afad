"""The knowledge index on disk: BM25 + chunk store + manifest, one immutable folder per version, and the
dense vectors in a vector store (FAISS files in the same folder by default, or a Qdrant collection).
A new version is written beside the old one and becomes current by one atomic rename, so a crash
mid-write leaves the previous version loadable and readers never see half an index."""
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

import bm25s
import numpy as np

from ..atomic import remove_leftovers, staged_dir, write_text
from ..faults import fault_point
from .chunking import Chunk
from .lexical import tokenize
from .vector_store import DenseVectors, VectorStore, VectorStoreUnavailable, VersionInfo, open_vectors

CURRENT = "CURRENT"
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
    chunks: dict[int, Chunk]
    bm25: bm25s.BM25 | None  # None for an index without chunks
    bm25_ids: np.ndarray  # BM25 row -> vector id

    @property
    def dim(self) -> int:
        return self.vectors.dim


def chunk_vector_id(chunk_id: str) -> int:
    """Stable across rebuilds and unique across files (the path is part of the chunk id)."""
    return int.from_bytes(hashlib.sha256(chunk_id.encode()).digest()[:8], "big") & (2**63 - 1)


def content_digest(model: str, chunks: list[Chunk], files: dict, store: dict) -> str:
    digest = hashlib.sha256(json.dumps([model, store], sort_keys=True).encode())
    for chunk in chunks:
        digest.update(f"{chunk.chunk_id}\0{chunk.content_hash}\0".encode())
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


def write_index(index_dir: Path, chunks: list[Chunk], vectors: np.ndarray, *, model: str, dim: int,
                files: dict, store: VectorStore) -> tuple[dict, bool]:
    """Write a new version unless the content is the same as the current one.
    Returns (manifest, written)."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    digest = content_digest(model, chunks, files, store.describe())
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
            manifest = _write_version(staging, version, digest, chunks, vectors.reshape(len(chunks), dim), model, files,
                                      store, info, replaces=existing["version"] if existing else None)
        fault_point("index:version-renamed")
        write_text(index_dir / CURRENT, version)
        fault_point("index:current-switched")
        store.after_switch(oldest_kept_generation=info.generation - (KEEP_VERSIONS - 1))
        _prune(versions, manifest)
        return manifest, True


def _write_version(folder: Path, version: str, digest: str, chunks: list[Chunk], vectors: np.ndarray,
                   model: str, files: dict, store: VectorStore, info: VersionInfo, replaces: str | None) -> dict:
    ids = np.array([chunk_vector_id(c.chunk_id) for c in chunks], dtype=np.int64)
    if len(set(ids.tolist())) != len(ids):
        raise ValueError("vector id collision between chunks; rename one of the colliding files")
    stored = store.write(folder, info, chunks, vectors, ids)
    fault_point("index:vectors-written")
    with open(folder / "chunks.jsonl", "w", encoding="utf-8") as out:
        for chunk in chunks:
            out.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
    fault_point("index:chunks-written")
    if chunks:
        retriever = bm25s.BM25()
        retriever.index([tokenize(c.embed_text) for c in chunks], show_progress=False)
        retriever.save(str(folder / "bm25"), show_progress=False)
    np.save(folder / "bm25_ids.npy", ids)
    fault_point("index:bm25-written")
    manifest = {
        "version": version, "generation": info.generation, "digest": digest, "created": dt.datetime.now(dt.UTC).isoformat(),
        "embedding_model": model, "dim": vectors.shape[1], "vectors": stored.pop("vectors"), "vector_store": stored,
        "chunks": len(chunks), "chunks_by_type": dict(Counter(chunk.kind for chunk in chunks)), "files": files, "replaces": replaces,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return manifest


def load_index(index_dir: Path) -> KnowledgeIndex:
    version = current_version(index_dir)
    if version is None:
        raise IndexNotFound(f"no knowledge index in {index_dir}: materialize the knowledge_index asset "
                            "(`persona index` or the Dagster UI) first")
    folder = index_dir / "versions" / version
    manifest = json.loads((folder / "manifest.json").read_text())
    chunks = {}
    with open(folder / "chunks.jsonl", encoding="utf-8") as rows:
        for line in rows:
            chunk = Chunk(**json.loads(line))
            chunks[chunk_vector_id(chunk.chunk_id)] = chunk
    bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if (folder / "bm25").exists() else None
    try:
        vectors = open_vectors(folder, manifest, chunks)
    except VectorStoreUnavailable as exc:
        raise IndexNotFound(f"index version {version}: {exc}") from exc
    return KnowledgeIndex(version, folder, manifest, vectors, chunks, bm25, np.load(folder / "bm25_ids.npy"))


def _prune(versions: Path, current: dict) -> None:
    """Keep the current version and the one it replaced (a reader may still hold it open); remove the rest,
    a version that a killed writer finished but never made current included."""
    keep = {current["version"], current.get("replaces")}
    for old in sorted(versions.iterdir()):
        if not old.name.startswith(".") and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
            fault_point("index:pruning")
