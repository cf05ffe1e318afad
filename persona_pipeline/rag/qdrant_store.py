"""Index vectors in a Qdrant collection, updated incrementally, with every index version readable
as a snapshot.

Points are content-addressed: a point's id is the hash of its chunk id and the chunk's content hash, so
an unchanged chunk keeps its point and a changed one becomes a new point. Each point records the
generation that added it (`born`) and, once its chunk left the index, the generation that removed it
(`retired`). A reader of generation G sees exactly `born <= G and not retired <= G`, so a version
being written (new points born G+1, old ones retired at G+1) is invisible until the version folder
becomes current, and the version before it stays whole until the next write after that.

`QdrantClient(path=...)` is the client's local mode: brute-force search in the client process, one
process per folder, points persisted with pickle. It stands in for a server in tests; a server is the
same client with a URL.
"""
from __future__ import annotations

import atexit
import os
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from ..rag_config import IndexConfig
from .chunking import Chunk
from .index_segments import content_key
from .vector_store import DenseVectors, VectorStore, VectorStoreUnavailable, VersionInfo

POINTS_FILE = "qdrant_points.npy"
BATCH = 512  # points per upsert request
# a server filters on these fields on every query
INDEXED_FIELDS = {"kind": qm.PayloadSchemaType.KEYWORD, "born": qm.PayloadSchemaType.INTEGER,
                  "retired": qm.PayloadSchemaType.INTEGER}

_clients: dict[tuple, QdrantClient] = {}


def connect(location: dict, index_dir: Path) -> QdrantClient:
    """One client per location and process: local mode locks its folder, so the writer and the readers
    of one process must share it."""
    if location.get("url"):
        key_env = location.get("api_key_env")
        if key_env and not os.environ.get(key_env):
            raise VectorStoreUnavailable(f"index.qdrant.api_key_env: environment variable {key_env} is not set")
        key = ("url", location["url"], key_env)
        if key not in _clients:
            _clients[key] = QdrantClient(url=location["url"], api_key=os.environ.get(key_env) if key_env else None)
        return _clients[key]
    path = (index_dir / location["path"]).resolve()
    key = ("path", str(path))
    if key not in _clients:
        path.mkdir(parents=True, exist_ok=True)
        try:
            _clients[key] = QdrantClient(path=str(path))
        except RuntimeError as exc:
            raise VectorStoreUnavailable(f"{path}: the local Qdrant folder is open in another process (local mode "
                                         "allows one; point index.qdrant.url at a Qdrant server to share it)") from exc
    return _clients[key]


@atexit.register
def _close_clients() -> None:
    # closing before interpreter shutdown releases local-mode folder locks without shutdown noise
    while _clients:
        _clients.popitem()[1].close()


def visible_at(generation: int, kind: str | None = None) -> qm.Filter:
    must = [qm.FieldCondition(key="born", range=qm.Range(lte=generation))]
    if kind is not None:
        must.append(qm.FieldCondition(key="kind", match=qm.MatchValue(value=kind)))
    return qm.Filter(must=must, must_not=[qm.FieldCondition(key="retired", range=qm.Range(lte=generation))])


def _range(key: str, **bounds) -> qm.Filter:
    return qm.Filter(must=[qm.FieldCondition(key=key, range=qm.Range(**bounds))])


class QdrantStore(VectorStore):
    def __init__(self, location: dict, collection: str, index_dir: Path):
        self.location, self.collection, self.index_dir = location, collection, index_dir

    @classmethod
    def from_config(cls, config: IndexConfig, index_dir: Path) -> "QdrantStore":
        qdrant = config.qdrant
        location = {"url": qdrant.url, "api_key_env": qdrant.api_key_env} if qdrant.url else {"path": qdrant.path or "qdrant"}
        return cls(location, qdrant.collection, index_dir)

    def describe(self) -> dict:
        return {"kind": "qdrant", "collection": self.collection, **self.location}

    @property
    def client(self) -> QdrantClient:
        return connect(self.location, self.index_dir)

    def write(self, folder: Path, info: VersionInfo, chunks: list[Chunk], vectors: np.ndarray, ids: np.ndarray) -> dict:
        previous = self._previous_points(info, vectors.shape[1])
        points = np.array([content_key(c) for c in chunks], dtype=np.int64)
        known = set(previous.tolist())
        fresh = [i for i, p in enumerate(points.tolist()) if p not in known]
        for start in range(0, len(fresh), BATCH):
            rows = fresh[start:start + BATCH]
            self.client.upsert(self.collection, wait=True, points=qm.Batch(
                ids=[int(points[i]) for i in rows], vectors=vectors[rows].tolist(),
                payloads=[{"vector_id": int(ids[i]), "chunk_id": chunks[i].chunk_id, "source": chunks[i].source,
                           "kind": chunks[i].kind, "born": info.generation} for i in rows]))
        gone = sorted(known - set(points.tolist()))
        for start in range(0, len(gone), BATCH):
            self.client.set_payload(self.collection, payload={"retired": info.generation}, wait=True,
                                    points=gone[start:start + BATCH])
        np.save(folder / POINTS_FILE, points)
        held = self.client.count(self.collection, count_filter=visible_at(info.generation), exact=True).count
        return {**self.describe(), "upserted": len(fresh), "retired": len(gone), "vectors": held}

    def after_switch(self, oldest_kept_generation: int) -> None:
        self.client.delete(self.collection, wait=True,
                           points_selector=qm.FilterSelector(filter=_range("retired", lte=oldest_kept_generation)))

    def _previous_points(self, info: VersionInfo, dim: int) -> np.ndarray:
        """Point ids of the version being replaced, with the collection cleaned of what an unfinished
        write left behind; a fresh collection when the previous version's vectors lived elsewhere."""
        previous = info.previous_manifest
        if self._continues(info, dim) and self.client.collection_exists(self.collection):
            done = previous["generation"]
            self.client.delete(self.collection, wait=True, points_selector=qm.FilterSelector(filter=_range("born", gt=done)))
            self.client.delete_payload(self.collection, keys=["retired"], wait=True, points=_range("retired", gt=done))
            return np.load(info.previous_folder / POINTS_FILE)
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
        self.client.create_collection(self.collection, vectors_config=qm.VectorParams(size=dim, distance=qm.Distance.COSINE))
        if "url" in self.location:  # local mode has no payload indexes (and warns)
            for field, schema in INDEXED_FIELDS.items():
                self.client.create_payload_index(self.collection, field, field_schema=schema, wait=True)
        return np.zeros(0, dtype=np.int64)

    def _continues(self, info: VersionInfo, dim: int) -> bool:
        """The previous version's vectors are in this collection, from the same model: only the difference
        needs writing. Another model gives every chunk a new vector under the same point id, so it
        rebuilds the collection (a reader still holding the old version then finds no vectors)."""
        previous = info.previous_manifest
        if not previous:
            return False
        stored = previous.get("vector_store") or {}
        return ({key: stored.get(key) for key in self.describe()} == self.describe()
                and previous.get("dim") == dim and previous.get("embedding_model") == info.model)


class QdrantVectors(DenseVectors):
    def __init__(self, client: QdrantClient, collection: str, generation: int, dim: int):
        self.client, self.collection, self.generation, self.dim = client, collection, generation, dim

    @classmethod
    def open(cls, described: dict, manifest: dict, index_dir: Path) -> "QdrantVectors":
        return cls(connect(described, index_dir), described["collection"], manifest["generation"], manifest["dim"])

    def count(self) -> int:
        return self.client.count(self.collection, count_filter=visible_at(self.generation), exact=True).count

    def search(self, query: np.ndarray, k: int, kind: str | None = None) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        found = self.client.query_points(self.collection, query=np.asarray(query, dtype=np.float32).ravel().tolist(),
                                         query_filter=visible_at(self.generation, kind), limit=k,
                                         with_payload=["vector_id"]).points
        return [(int(p.payload["vector_id"]), float(p.score)) for p in found]
