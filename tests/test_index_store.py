"""Atomic index versions: a crash while writing leaves the previous version loadable."""
import numpy as np
import pytest

from persona_pipeline.rag import index_store
from persona_pipeline.rag.chunking import Chunk
from persona_pipeline.rag.index_store import current_version, load_index, write_index


def chunk(i: int, text: str) -> Chunk:
    return Chunk(chunk_id=f"a.md#{i}", source="a.md", kind="article", title="A", heading=None,
                 location={}, text=text, content_hash=f"h{i}{text}", n_tokens=5)


def vectors(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    v = rng.normal(size=(n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def write(tmp_path, chunks, exact_max=1000):
    return write_index(tmp_path, chunks, vectors(len(chunks)), model="m", dim=8, files={}, exact_search_max_vectors=exact_max)


def test_crash_mid_write_keeps_previous_version(tmp_path, monkeypatch):
    write(tmp_path, [chunk(0, "first version")])
    before = current_version(tmp_path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index_store.bm25s.BM25, "save", crash)
    with pytest.raises(OSError):
        write(tmp_path, [chunk(0, "second version"), chunk(1, "more")])
    assert current_version(tmp_path) == before
    assert [c.text for c in load_index(tmp_path).chunks.values()] == ["first version"]
    assert not list((tmp_path / "versions").glob(".staging-*"))


def test_versions_are_pruned_to_current_and_previous(tmp_path):
    for n in range(1, 5):
        write(tmp_path, [chunk(i, f"text {n}") for i in range(n)])
    assert len([p for p in (tmp_path / "versions").iterdir()]) == 2
    assert load_index(tmp_path).vectors.ntotal == 4


def test_large_collections_switch_to_ivf_and_still_find_their_vectors(tmp_path):
    chunks = [chunk(i, f"text {i}") for i in range(400)]
    manifest, _ = write(tmp_path, chunks, exact_max=100)
    assert manifest["faiss_index"].startswith("IVF")
    index = load_index(tmp_path)
    query = vectors(400)[17:18]
    _, ids = index.vectors.search(query, 1)
    assert index.chunks[int(ids[0][0])].chunk_id == "a.md#17"
