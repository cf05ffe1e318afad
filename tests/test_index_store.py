"""Index versions on both vector stores: the same search, delete, stale-chunk and crash checks against
FAISS files and a Qdrant collection (the client's local mode), plus what only one of them does."""
import numpy as np
import pytest

from persona_pipeline.rag import index_store
from persona_pipeline.rag.chunking import Chunk
from persona_pipeline.rag.index_store import current_version, load_index, write_index
from persona_pipeline.rag.retrieval import Retriever
from persona_pipeline.rag.vector_store import make_store
from persona_pipeline.rag_config import IndexConfig, QdrantConfig

DIM = 8


def chunk(i: int, text: str, source: str = "a.md", kind: str = "article") -> Chunk:
    return Chunk(chunk_id=f"{source}#{i}", source=source, kind=kind, title=source, heading=None,
                 location={}, text=text, content_hash=f"h{i}{text}", n_tokens=5)


def vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=["faiss", "qdrant"])
def store(request, tmp_path):
    return make_store(IndexConfig(store=request.param, exact_search_max_vectors=100, qdrant=QdrantConfig(path="qdrant")), tmp_path)


def write(folder, store, chunks, matrix=None, model="m"):
    matrix = vectors(len(chunks)) if matrix is None else matrix
    return write_index(folder, chunks, matrix, model=model, dim=matrix.shape[1], files={}, store=store)


def texts(hits) -> list[str]:
    return [h.chunk.text for h in hits]


def test_search_finds_each_vector_and_filters_by_knowledge_type(tmp_path, store):
    chunks = [chunk(i, f"text {i}", kind="lecture" if i % 3 == 0 else "article") for i in range(12)]
    matrix = vectors(12)
    manifest, written = write(tmp_path, store, chunks, matrix)
    assert written and manifest["vectors"] == manifest["chunks"] == 12
    index = load_index(tmp_path)
    assert index.vectors.count() == 12 and index.dim == DIM
    for i in (0, 5, 11):
        (vid, score), *_ = index.vectors.search(matrix[i], 3)
        assert index.chunks[vid].chunk_id == f"a.md#{i}" and score == pytest.approx(1.0, abs=1e-4)
    lectures = index.vectors.search(matrix[5], 12, kind="lecture")
    assert {index.chunks[v].chunk_id for v, _ in lectures} == {"a.md#0", "a.md#3", "a.md#6", "a.md#9"}


def test_hybrid_search_with_the_real_embedder(tmp_path, store, embedder):
    chunks = [chunk(0, "The marathon taper lasts three weeks and volume falls by forty percent.", "taper.md"),
              chunk(0, "Sleep eight and a half hours and drink kefir after hard sessions.", "sleep.md"),
              chunk(0, "Зимний базовый период: длинные кроссы по снегу.", "zima.txt", kind="lecture")]
    write(tmp_path, store, chunks, embedder.embed([c.embed_text for c in chunks]), model=embedder.name)
    retriever = Retriever(load_index(tmp_path), embedder)
    hits = retriever.search("how long is the taper before a marathon", k=3)
    assert hits[0].chunk.source == "taper.md" and hits[0].dense_rank == 1 and hits[0].bm25_rank == 1
    assert texts(retriever.search("кроссы по снегу", k=1, mode="bm25")) == [chunks[2].text]
    assert [h.chunk.source for h in retriever.search("marathon taper", k=3, kind="lecture")] == ["zima.txt"]


def test_deleted_and_edited_chunks_leave_nothing_behind_while_the_old_version_stays_whole(tmp_path, store):
    first = [chunk(0, "alpha"), chunk(1, "beta"), chunk(0, "gamma", source="b.md")]
    matrix = vectors(3)
    write(tmp_path, store, first, matrix)
    old = load_index(tmp_path)

    edited = [chunk(0, "alpha"), chunk(1, "beta, edited")]  # b.md deleted, a.md#1 changed
    new_matrix = np.vstack([matrix[0], vectors(1, seed=7)])
    manifest, written = write(tmp_path, store, edited, new_matrix)
    assert written and manifest["vectors"] == 2
    index = load_index(tmp_path)
    assert index.vectors.count() == 2
    found = {index.chunks[v].text for v, _ in index.vectors.search(matrix[2], 10)}
    assert found == {"alpha", "beta, edited"}, "the deleted file's vector must be gone"
    (vid, _), *_ = index.vectors.search(new_matrix[1], 1)
    assert index.chunks[vid].text == "beta, edited"

    # a reader that opened the previous version before the write still sees all of it
    assert old.vectors.count() == 3
    assert {old.chunks[v].text for v, _ in old.vectors.search(matrix[2], 10)} == {"alpha", "beta", "gamma"}


def test_crash_mid_write_keeps_previous_version_and_the_next_write_succeeds(tmp_path, store, monkeypatch):
    write(tmp_path, store, [chunk(0, "first version")])
    before = current_version(tmp_path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(index_store, "write_postings", crash)
        with pytest.raises(OSError):
            write(tmp_path, store, [chunk(0, "second version"), chunk(1, "more")], vectors(2, seed=3))
    assert current_version(tmp_path) == before
    index = load_index(tmp_path)
    assert [c.text for c in index.chunks.values()] == ["first version"] and index.vectors.count() == 1
    assert not list((tmp_path / "versions").glob(".staging-*"))

    write(tmp_path, store, [chunk(0, "third version")], vectors(1, seed=5))
    index = load_index(tmp_path)
    assert [c.text for c in index.chunks.values()] == ["third version"] and index.vectors.count() == 1


def test_versions_are_pruned_to_current_and_previous(tmp_path, store):
    for n in range(1, 5):
        write(tmp_path, store, [chunk(i, f"text {n}") for i in range(n)], vectors(n, seed=n))
    assert len(list((tmp_path / "versions").iterdir())) == 2
    index = load_index(tmp_path)
    assert index.vectors.count() == 4 and index.manifest["generation"] == 4


def test_qdrant_writes_only_new_and_changed_chunks_and_drops_what_no_kept_version_needs(tmp_path):
    store = make_store(IndexConfig(store="qdrant", qdrant=QdrantConfig(path="qdrant")), tmp_path)
    chunks = [chunk(i, f"text {i}") for i in range(10)]
    first, _ = write(tmp_path, store, chunks)
    assert (first["vector_store"]["upserted"], first["vector_store"]["retired"]) == (10, 0)
    chunks[3] = chunk(3, "text 3, edited")
    second, _ = write(tmp_path, store, chunks[:9] + [chunk(10, "new")])
    assert (second["vector_store"]["upserted"], second["vector_store"]["retired"]) == (2, 2)
    third, _ = write(tmp_path, store, chunks[:9] + [chunk(10, "new"), chunk(11, "newer")])
    assert (third["vector_store"]["upserted"], third["vector_store"]["retired"]) == (1, 0)
    # the two points retired by the second version served only the first, which is no longer kept
    assert store.client.count("persona_knowledge", exact=True).count == 11


def test_faiss_large_collections_switch_to_ivf_and_still_find_their_vectors(tmp_path):
    store = make_store(IndexConfig(store="faiss", exact_search_max_vectors=100), tmp_path)
    chunks = [chunk(i, f"text {i}", kind="lecture" if i % 2 else "article") for i in range(400)]
    manifest, _ = write(tmp_path, store, chunks)
    assert manifest["vector_store"]["index"].startswith("IVF")
    index = load_index(tmp_path)
    (vid, _), *_ = index.vectors.search(vectors(400)[17], 1)
    assert index.chunks[vid].chunk_id == "a.md#17"
    assert all(index.chunks[v].kind == "article" for v, _ in index.vectors.search(vectors(400)[17], 20, kind="article"))
