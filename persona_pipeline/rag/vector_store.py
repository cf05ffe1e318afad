"""Where an index version's dense vectors live: FAISS files inside the version's segments (the default)
or a Qdrant collection (`index.store: qdrant` in RAG_config.yaml).

BM25, the chunk store and the manifest stay in the version folder with either store, so the version
switch (one rename of CURRENT) is what makes a new index visible whichever store holds the vectors.
A store writes its part of a version while the version is staged, may tidy up after the switch, and
opens a version for reading. Vector ids are the chunk ids' 63-bit hashes (`chunk_vector_id`).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from ..rag_config import IndexConfig
from .chunking import Chunk
from .index_segments import SEGMENTS

FAISS_FILE = "vectors.faiss"
# an IVF index has this many lists per square root of its vector count (FAISS's guideline is 4 to 16:
# more lists, shorter scans per probe)
IVF_LISTS_PER_ROOT = 4
# k-means for the IVF lists samples this many vectors per list (FAISS warns below 39): its cost grows with
# the vectors it clusters, and FAISS's own default of 256 per list took minutes at a million vectors
IVF_TRAIN_POINTS_PER_LIST = 64
# IVF search visits this many lists at least, and a sixteenth of them on big indexes
MIN_NPROBE, NPROBE_SHARE = 8, 16


class VectorStoreUnavailable(Exception):
    """The store named by the manifest or the config cannot be reached or opened."""


@dataclass(frozen=True)
class VersionInfo:
    """What a store is told about the version it writes: its generation (1, 2, ... per index folder),
    the embedding model, and the current version it replaces, when there is one."""
    generation: int
    model: str
    previous_manifest: dict | None
    previous_folder: Path | None


class DenseVectors(ABC):
    """One index version's vectors, for reading."""

    dim: int

    @abstractmethod
    def count(self) -> int:
        """How many vectors this version holds."""

    @abstractmethod
    def search(self, query: np.ndarray, k: int, kind: str | None = None) -> list[tuple[int, float]]:
        """Up to k (vector id, inner product) pairs, best first, only chunks of `kind` when given."""


class VectorStore(ABC):
    # a segmented store keeps vectors in each index segment (written once per segment, with its chunks);
    # another keeps the whole version's vectors itself (written once per version, with all its chunks)
    segmented = False

    @abstractmethod
    def describe(self) -> dict:
        """Where the vectors go; recorded in the manifest, and part of the version digest so that
        switching stores writes a new version."""

    @abstractmethod
    def write(self, folder: Path, info: VersionInfo, chunks: list[Chunk], vectors: np.ndarray, ids: np.ndarray) -> dict:
        """Store a new version's vectors (`folder` is the staged version folder), or a segmented store's new
        segment's (`folder` is the segment's). Returns the manifest's `vector_store` entry: `describe()`,
        details, `index` (the layout) and `vectors`, how many it holds."""

    def after_switch(self, oldest_kept_generation: int) -> None:
        """Called once the new version is current: drop what no kept version needs any more."""


class FaissStore(VectorStore):
    """Exact inner-product search (IDMap2 over Flat) up to `exact_search_max_vectors` vectors in a segment,
    IVF above it; HNSW is avoided because it cannot delete ids. Each segment has its own `vectors.faiss`,
    and a version's dead rows are removed from the segments' indexes in memory when it is opened."""

    segmented = True

    def __init__(self, exact_search_max_vectors: int):
        self.exact_max = exact_search_max_vectors

    def describe(self) -> dict:
        return {"kind": "faiss"}

    def write(self, folder: Path, info: VersionInfo, chunks: list[Chunk], vectors: np.ndarray, ids: np.ndarray) -> dict:
        dim = vectors.shape[1]
        contiguous = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(chunks) <= self.exact_max:
            index, layout = faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), "IDMap2,FlatIP"
        else:
            nlist = int(IVF_LISTS_PER_ROOT * np.sqrt(len(chunks)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.max_points_per_centroid = IVF_TRAIN_POINTS_PER_LIST
            index.train(contiguous)
            layout = f"IVF{nlist},FlatIP"
        if len(chunks):
            index.add_with_ids(contiguous, ids)
        faiss.write_index(index, str(folder / FAISS_FILE))
        return {**self.describe(), "index": layout, "vectors": int(index.ntotal)}


class FaissVectors(DenseVectors):
    def __init__(self, segments: list[Path], dead_ids: list[np.ndarray], chunks: dict[int, Chunk]):
        self.indexes = []
        for folder, dead in zip(segments, dead_ids):
            index = faiss.read_index(str(folder / FAISS_FILE))
            if len(dead):
                index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(dead, dtype=np.int64)))
            if isinstance(index, faiss.IndexIVF):
                index.nprobe = max(MIN_NPROBE, index.nlist // NPROBE_SHARE)
            self.indexes.append(index)
        self.dim = self.indexes[0].d
        self._chunks = chunks
        self._selectors: dict[str, faiss.IDSelector] = {}

    def count(self) -> int:
        return sum(int(index.ntotal) for index in self.indexes)

    def search(self, query: np.ndarray, k: int, kind: str | None = None) -> list[tuple[int, float]]:
        k = min(k, self.count())
        if k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        found = []
        for index in self.indexes:
            params = None
            if kind is not None:
                selector = self._selector(kind)
                params = (faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe) if isinstance(index, faiss.IndexIVF)
                          else faiss.SearchParameters(sel=selector))
            scores, ids = index.search(query, min(k, max(int(index.ntotal), 1)), params=params)
            found += [(float(s), int(v)) for v, s in zip(ids[0], scores[0]) if v != -1]
        found.sort(key=lambda item: -item[0])
        return [(v, s) for s, v in found[:k]]

    def _selector(self, kind: str) -> faiss.IDSelector:
        if kind not in self._selectors:
            allowed = np.array([vid for vid, chunk in self._chunks.items() if chunk.kind == kind], dtype=np.int64)
            self._selectors[kind] = faiss.IDSelectorBatch(allowed)
        return self._selectors[kind]


def make_store(config: IndexConfig, index_dir: Path) -> VectorStore:
    """The store `index:` of RAG_config.yaml names; a relative Qdrant path is resolved against `index_dir`."""
    if config.store == "qdrant":
        from .qdrant_store import QdrantStore  # qdrant-client is imported only by those who use it

        return QdrantStore.from_config(config, index_dir)
    return FaissStore(config.exact_search_max_vectors)


def open_vectors(folder: Path, manifest: dict, chunks: dict[int, Chunk], dead_ids: dict[str, np.ndarray]) -> DenseVectors:
    """The version's vectors; `dead_ids` are each segment's vector ids that this version no longer holds."""
    described = manifest["vector_store"]
    if described["kind"] == "qdrant":
        from .qdrant_store import QdrantVectors

        return QdrantVectors.open(described, manifest, folder.parent.parent)
    names = [entry["name"] for entry in manifest["segments"]]
    return FaissVectors([folder / SEGMENTS / name for name in names], [dead_ids[name] for name in names], chunks)
