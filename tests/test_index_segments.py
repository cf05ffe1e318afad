"""A re-index writes only what changed: the previous version's segments are shared, not rewritten, and
the new version searches exactly as a fresh build of the same chunks does, on both vector stores."""
import json
import zlib
from dataclasses import replace

import numpy as np
import pytest

from persona_pipeline.rag import index_segments, index_store
from persona_pipeline.rag.index_store import IndexNotFound, current_version, load_index
from persona_pipeline.rag.lexical import tokenize
from persona_pipeline.rag.vector_store import make_store
from persona_pipeline.rag_config import IndexConfig, QdrantConfig
from test_index_store import chunk, vectors, write
from test_lexicon import assert_same_ranking

WORDS = "taper marathon volume sleep kefir threshold tempo hills снег кросс пульс отдых объём неделя".split()
QUERIES = ["marathon taper volume", "сон пульс отдых", "hills tempo", "кросс по снегу", "kefir"]


def corpus(files: str, seed: int = 0) -> list:
    """Ten chunks per file letter, each a few of WORDS, its vector seeded by its chunk id."""
    rng = np.random.default_rng(seed)
    return [chunk(i, " ".join(rng.choice(WORDS, 5)) + f" {name}{i}", source=f"{name}.md",
                  kind="lecture" if i % 3 == 0 else "article") for name in files for i in range(10)]


def matrix(chunks) -> np.ndarray:
    return np.vstack([vectors(1, seed=zlib.crc32((c.chunk_id + c.text).encode())) for c in chunks])


@pytest.fixture(params=["faiss", "qdrant"])
def config(request):
    return IndexConfig(store=request.param, exact_search_max_vectors=100, qdrant=QdrantConfig(path="qdrant"))


def segment_files(folder, manifest, n):
    return sorted((folder / "versions" / manifest["version"] / "segments" / manifest["segments"][n]["name"]).iterdir())


def test_a_reindex_shares_the_old_segment_writes_the_new_chunks_and_searches_as_a_fresh_build(tmp_path, config):
    before = corpus("abcdef")
    first, _ = write(tmp_path / "index", make_store(config, tmp_path / "index"), before, matrix(before))
    old = load_index(tmp_path / "index")

    after = [c for c in before if c.source != "f.md"] + corpus("g", seed=1)   # f.md removed, g.md added
    after[1] = chunk(1, "taper volume edited", source="a.md")                # one chunk edited
    second, written = write(tmp_path / "index", make_store(config, tmp_path / "index"), after, matrix(after))
    assert written and [(s["rows"], s["dead"]) for s in second["segments"]] == [(60, 11), (11, 0)]
    shared = [(a.stat().st_ino, a.name) for a in segment_files(tmp_path / "index", first, 0)]
    assert shared == [(b.stat().st_ino, b.name) for b in segment_files(tmp_path / "index", second, 0)]

    fresh, _ = write(tmp_path / "fresh", make_store(config, tmp_path / "fresh"), after, matrix(after))
    assert len(fresh["segments"]) == 1
    segmented, rebuilt = load_index(tmp_path / "index"), load_index(tmp_path / "fresh")
    assert segmented.chunks == rebuilt.chunks and segmented.vectors.count() == rebuilt.vectors.count() == 60
    assert segmented.lexicon.frequencies == rebuilt.lexicon.frequencies
    for query in QUERIES:
        for kind in (None, "lecture"):
            assert_same_ranking(segmented.lexicon.top_k(tokenize(query), 10, kind),
                                rebuilt.lexicon.top_k(tokenize(query), 10, kind))
    for row in (0, 1, 33, 59):
        probe = matrix(after)[row]
        assert segmented.vectors.search(probe, 1)[0][0] == index_store.chunk_vector_id(after[row].chunk_id)
        for kind in (None, "lecture"):
            assert_same_ranking(segmented.vectors.search(probe, 5, kind), rebuilt.vectors.search(probe, 5, kind))
    assert "f.md#0" not in {c.chunk_id for c in segmented.chunks.values()}

    # the reader that opened the first version still sees all of it, edited chunk and removed file included
    assert old.vectors.count() == 60 and old.lexicon.count() == 60
    assert {c.source for c in old.chunks.values()} == {f"{x}.md" for x in "abcdef"}
    assert "taper volume edited" not in {c.text for c in old.chunks.values()}


def test_the_shared_segment_outlives_the_version_that_wrote_it(tmp_path):
    store = make_store(IndexConfig(store="faiss"), tmp_path)
    chunks = corpus("abc")
    write(tmp_path, store, chunks, matrix(chunks))
    for letters in ("d", "e"):
        chunks += corpus(letters, seed=2)
        write(tmp_path, store, chunks, matrix(chunks))
    assert len(list((tmp_path / "versions").iterdir())) == 2  # the version that wrote the first segment is gone
    index = load_index(tmp_path)
    assert [s["rows"] for s in index.manifest["segments"]] == [30, 10, 10] and len(index.chunks) == 50
    (vid, score), *_ = index.vectors.search(matrix(chunks)[0], 1)
    assert index.chunks[vid].chunk_id == "a.md#0" and score == pytest.approx(1.0, abs=1e-4)


def test_too_many_or_too_dead_segments_are_rewritten_into_one(tmp_path):
    store = make_store(IndexConfig(store="faiss"), tmp_path)
    chunks = corpus("a")
    counts = []
    for n in range(index_segments.MAX_SEGMENTS + 1):
        chunks = chunks + [chunk(100 + n, f"added {n}", source="added.md")]
        manifest, _ = write(tmp_path, store, chunks, matrix(chunks))
        counts.append(len(manifest["segments"]))
    assert counts == [1] + list(range(2, index_segments.MAX_SEGMENTS + 1)) + [1]
    # removing more than MAX_DEAD_SHARE of the rows rewrites too
    kept = chunks[:int(len(chunks) * (1 - index_segments.MAX_DEAD_SHARE)) - 1]
    manifest, _ = write(tmp_path, store, kept, matrix(kept))
    assert [(s["rows"], s["dead"]) for s in manifest["segments"]] == [(len(kept), 0)]
    assert load_index(tmp_path).vectors.count() == len(kept)


def test_an_index_written_in_the_earlier_layout_is_refused_with_a_reason_and_rewritten(tmp_path):
    store = make_store(IndexConfig(store="faiss"), tmp_path)
    chunks = corpus("a")
    write(tmp_path, store, chunks, matrix(chunks))
    manifest_file = tmp_path / "versions" / current_version(tmp_path) / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    del manifest["format"], manifest["segments"]  # what the release before segments wrote
    manifest["digest"] = "the digest an earlier release computed"
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexNotFound, match="earlier release.*re-run `persona index`"):
        load_index(tmp_path)
    manifest, written = write(tmp_path, store, chunks, matrix(chunks))
    assert written and len(manifest["segments"]) == 1 and load_index(tmp_path).vectors.count() == 10


def test_a_chunk_whose_type_or_place_changed_is_written_anew_not_kept(tmp_path):
    """Same text, but the file is now a lecture and the passage moved: citations and type filters read the
    new record, not the kept one."""
    store = make_store(IndexConfig(store="faiss"), tmp_path)
    chunks = corpus("abcdefgh")
    write(tmp_path, store, chunks, matrix(chunks))
    moved = [replace(c, kind="diary", location={"line": 40 + n}) if c.source == "b.md" else c
             for n, c in enumerate(chunks)]
    manifest, written = write(tmp_path, store, moved, matrix(moved))
    assert written and [(s["rows"], s["dead"]) for s in manifest["segments"]] == [(80, 10), (10, 0)]
    index = load_index(tmp_path)
    b_chunks = [c for c in index.chunks.values() if c.source == "b.md"]
    assert {c.kind for c in b_chunks} == {"diary"} and min(c.location["line"] for c in b_chunks) == 50
    assert {index.chunks[v].source for v, _ in index.lexicon.top_k(tokenize("taper marathon"), 30, "diary")} == {"b.md"}
    assert {index.chunks[v].source for v, _ in index.vectors.search(matrix(moved)[12], 30, "diary")} == {"b.md"}


def test_new_tokenizing_code_rewrites_the_postings_of_unchanged_chunks(tmp_path, monkeypatch):
    store = make_store(IndexConfig(store="faiss"), tmp_path)
    chunks = corpus("ab")
    write(tmp_path, store, chunks, matrix(chunks))
    monkeypatch.setattr(index_store, "lexical_code", lambda: "another tokenizer")
    manifest, written = write(tmp_path, store, chunks, matrix(chunks))
    assert written and [(s["rows"], s["dead"]) for s in manifest["segments"]] == [(20, 0)]
