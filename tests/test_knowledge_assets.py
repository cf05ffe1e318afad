"""The knowledge assets materialized in-process with the real default embedder (e5-small) on a copy of the samples."""
import json
import os
import shutil

from conftest import SAMPLES
from persona_pipeline.defs.runs import run_knowledge
from persona_pipeline.rag.embedding import open_embedder
from persona_pipeline.rag.index_store import load_index, read_manifest
from persona_pipeline.rag.retrieval import Retriever, open_retriever
from persona_pipeline.rag_config import load_rag_config
from persona_pipeline.settings import PROJECT_DIR

SHIPPED_CONFIG = PROJECT_DIR / "RAG_config.yaml"

NEW_LECTURE = """WEBVTT

00:00:01.000 --> 00:00:09.000
Tonight: the Zhiguli hill fartlek, twelve times ninety seconds uphill on the Zhiguli ridge trail.

00:00:09.000 --> 00:00:20.000
We run it every second Thursday in October, with the jog back down as recovery, at RPE eight.
"""


def _sources(data_dir):
    return {c.source for c in load_index(data_dir / "index").chunks.values()}


def test_materialize_indexes_every_sample_and_all_checks_pass(materials, data_dir):
    result = run_knowledge(materials, data_dir, with_eval=True)
    assert result.success
    index, index_page = result.index, result.metadata("knowledge_index")
    files = sum(1 for p in materials.rglob("*") if p.is_file())
    assert index.files_indexed == files and index.files_skipped == 0
    assert index.vectors == index.chunks == result.metadata("knowledge_chunks")["chunks"]
    assert set(json.loads(json.dumps(index_page["chunks_by_type"]))) == {"article", "lecture", "training_log"}
    assert "threshold_training.md" in index_page["files"]
    assert result.checks == {"vector_count_matches_chunks": True, "dimension_matches_model": True,
                      "no_empty_or_truncated_chunks": True, "every_file_accounted_for": True,
                      "recall_at_5_above_threshold": True, "hybrid_at_least_best_single_mode": True}
    evaluation, by_language = result.retrieval, result.metadata("retrieval_eval")
    assert evaluation.questions >= 40 and evaluation.hybrid_recall_at_5 >= 0.9
    assert by_language["hybrid_recall@5_ru"] >= 0.9 and by_language["hybrid_recall@5_en"] >= 0.9
    assert "| ru | 18 | bm25 |" in evaluation.by_language


def test_rerun_is_idempotent_and_touch_does_not_reembed(materials, data_dir):
    first = run_knowledge(materials, data_dir)
    version = first.index.version
    os.utime(materials / "articles/threshold_training.md")
    second = run_knowledge(materials, data_dir)
    assert second.embedded.newly_embedded == 0
    assert second.index.version == version
    assert second.index.new_version is False
    index = load_index(data_dir / "index")
    assert len({c.chunk_id for c in index.chunks.values()}) == index.vectors.count()


def test_adding_one_file_embeds_only_its_chunks_and_makes_it_searchable(materials, data_dir):
    before = run_knowledge(materials, data_dir).index.chunks
    (materials / "lectures" / "lecture_03_hills.vtt").write_text(NEW_LECTURE)
    result = run_knowledge(materials, data_dir)
    new_chunks = result.index.chunks - before
    assert new_chunks >= 1
    assert result.embedded.newly_embedded == new_chunks
    hits = open_retriever(data_dir / "index", load_rag_config(SHIPPED_CONFIG)).search("Zhiguli hill fartlek", k=1)
    assert hits[0].chunk.source == "lectures/lecture_03_hills.vtt"
    assert hits[0].chunk.location["start"] == "00:00:01"


def test_deleting_and_editing_files_leaves_no_stale_chunks(materials, data_dir):
    run_knowledge(materials, data_dir)
    (materials / "articles/recovery_and_sleep.html").unlink()
    edited = materials / "articles/threshold_training.md"
    edited.write_text(edited.read_text().replace("3:38 per kilometre", "3:41 per kilometre"))
    result = run_knowledge(materials, data_dir)
    assert result.checks["every_file_accounted_for"]
    index = load_index(data_dir / "index")
    assert "articles/recovery_and_sleep.html" not in {c.source for c in index.chunks.values()}
    texts = " ".join(c.text for c in index.chunks.values() if c.source.endswith("threshold_training.md"))
    assert "3:41 per kilometre" in texts and "3:38 per kilometre" not in texts
    assert result.embedded.newly_embedded == 1
    assert Retriever(index, open_embedder(index.manifest["embedding_model"])).search("kefir recovery drink sleep 8.5 hours", k=3)[0].chunk.source != "articles/recovery_and_sleep.html"


def test_bad_inputs_are_reported_and_everything_else_is_indexed(materials, data_dir):
    bad = {
        "articles/empty.md": b"",
        "articles/junk.txt": bytes(range(256)) * 40,
        "articles/truncated.pdf": (SAMPLES / "articles/taper_before_marathon.pdf").read_bytes()[:400],
        "articles/notes.rtf": b"{\\rtf1 hello}",
        "articles/threshold_training_copy.md": (SAMPLES / "articles/threshold_training.md").read_bytes(),
        "logs/broken.json": b'{"sessions": [ {"date": "2026-01-01", ',
        "articles/huge.txt": b"word " * (5 * 2**20),
    }
    for rel, data in bad.items():
        (materials / rel).write_bytes(data)
    config = (SAMPLES.parent / "RAG_config.yaml").read_text().replace("max_file_mb: 20", "max_file_mb: 10")
    (materials.parent / "RAG_config.yaml").write_text(config)
    os.environ["PERSONA_CONFIG"] = str(materials.parent / "RAG_config.yaml")
    try:
        result = run_knowledge(materials, data_dir)
    finally:
        del os.environ["PERSONA_CONFIG"]
    assert result.success
    files = read_manifest(data_dir / "index")["files"]
    reasons = {rel: files[rel].get("reason", "") for rel in bad}
    assert reasons["articles/empty.md"] == "empty file"
    assert "binary content" in reasons["articles/junk.txt"]
    assert "PDF" in reasons["articles/truncated.pdf"]
    assert "unsupported extension '.rtf'" in reasons["articles/notes.rtf"]
    assert reasons["articles/threshold_training_copy.md"] == "duplicate of articles/threshold_training.md"
    assert "invalid JSON" in reasons["logs/broken.json"]
    assert "too large" in reasons["articles/huge.txt"]
    assert all(files[rel]["status"] == "skipped" for rel in bad)
    indexed = [p for p, f in files.items() if f["status"] == "indexed"]
    assert len(indexed) == sum(1 for p in SAMPLES.rglob("*") if p.is_file() and "worldview" not in p.parts)
    assert result.checks["every_file_accounted_for"]


def test_index_knows_the_configured_model_and_its_dimension(materials, data_dir):
    run_knowledge(materials, data_dir)
    manifest = read_manifest(data_dir / "index")
    embedder = open_embedder(load_rag_config(SHIPPED_CONFIG).embedding.model)
    assert manifest["dim"] == embedder.dim == 384 and manifest["embedding_model"] == "e5-small"
    assert all(c.n_tokens <= embedder.window for c in load_index(data_dir / "index").chunks.values())


def test_empty_materials_folder_builds_an_empty_index(tmp_path):
    (tmp_path / "materials").mkdir()
    result = run_knowledge(tmp_path / "materials", tmp_path / "data")
    assert result.success
    assert result.index.chunks == 0
    shutil.rmtree(tmp_path / "data")


def test_the_qdrant_store_serves_the_same_assets_checks_and_search(materials, data_dir, monkeypatch):
    config = materials.parent / "RAG_config.yaml"
    config.write_text((SAMPLES.parent / "RAG_config.yaml").read_text().replace("store: faiss", "store: qdrant"))
    monkeypatch.setenv("PERSONA_CONFIG", str(config))
    first = run_knowledge(materials, data_dir)
    assert first.success and all(first.checks.values())
    stored = first.index.vector_store
    assert stored["kind"] == "qdrant" and stored["upserted"] == first.index.vectors
    assert (data_dir / "index" / "qdrant").is_dir()

    gone = "articles/recovery_and_sleep.html"
    removed = sum(1 for c in load_index(data_dir / "index").chunks.values() if c.source == gone)
    (materials / gone).unlink()
    second = run_knowledge(materials, data_dir)
    assert second.success and all(second.checks.values())
    stored = second.index.vector_store
    assert (stored["upserted"], stored["retired"]) == (0, removed)
    hits = open_retriever(data_dir / "index", load_rag_config(config)).search("kefir recovery drink sleep 8.5 hours", k=5)
    assert gone not in {h.chunk.source for h in hits}
    assert _sources(data_dir) == {p.relative_to(materials).as_posix() for p in materials.rglob("*") if p.is_file()}
