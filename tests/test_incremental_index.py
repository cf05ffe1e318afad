"""A re-index costs what changed: unchanged files are neither parsed nor chunked again, the embedding model
is not loaded when every vector is cached, and `persona index` with nothing changed starts no Dagster run."""
import os
import shutil

import pytest

from persona_pipeline.cli import main
from persona_pipeline.ingest import loading
from persona_pipeline.rag_config import load_rag_config
from persona_pipeline.rag import build
from persona_pipeline.rag.embedding import Embedder
from persona_pipeline.rag.index_store import read_manifest
from persona_pipeline.settings import Paths

NEW_ARTICLE = "# Cadence drills\n\nTwo hundred metres of quick light steps at 190 per minute, then a walk back.\n"


def _full_build(paths: Paths, embedder: Embedder):
    config = load_rag_config(paths.config_path)
    build.build_documents(paths, config)
    chunks, rechunked = build.build_chunks(paths, config, embedder)
    manifest, written = build.build_index(paths, config, embedder)
    return chunks, rechunked, manifest, written


@pytest.fixture
def counted_parses(monkeypatch):
    """Counts the parser calls per file, by wrapping the real parsers."""
    calls = []
    real = dict(loading.PARSERS)

    def counting(name):
        return lambda data, path: calls.append(path) or real[name](data, path)

    monkeypatch.setattr(loading, "PARSERS", {name: counting(name) for name in real})
    return calls


def test_rerun_parses_and_chunks_only_what_changed_and_loads_no_model_when_all_is_cached(materials, data_dir, counted_parses):
    paths = Paths.resolve(materials, data_dir)
    first_chunks, rechunked, manifest, _ = _full_build(paths, Embedder())
    assert rechunked == len(counted_parses) == len(manifest["files"])

    counted_parses.clear()
    untouched = Embedder()
    chunks, rechunked, again, written = _full_build(paths, untouched)
    assert counted_parses == [] and rechunked == 0 and not written
    assert [c.to_json() for c in chunks] == [c.to_json() for c in first_chunks]
    assert "network" not in untouched.__dict__  # every vector came from the cache

    (materials / "articles" / "cadence.md").write_text(NEW_ARTICLE)
    edited = materials / "articles/threshold_training.md"
    edited.write_text(edited.read_text().replace("3:38 per kilometre", "3:41 per kilometre"))
    counted_parses.clear()
    chunks, rechunked, manifest, written = _full_build(paths, Embedder())
    assert sorted(counted_parses) == ["articles/cadence.md", "articles/threshold_training.md"] and rechunked == 2
    assert written and manifest["files"]["articles/cadence.md"]["status"] == "indexed"
    assert any("3:41 per kilometre" in c.text for c in chunks) and not any("3:38 per kilometre" in c.text for c in chunks)


def test_a_change_to_the_chunk_settings_rechunks_without_reparsing(materials, data_dir, counted_parses, tmp_path, monkeypatch):
    paths = Paths.resolve(materials, data_dir)
    before, _, _, _ = _full_build(paths, Embedder())
    config = tmp_path / "RAG_config.yaml"
    config.write_text(paths.config_path.read_text().replace("chunk_tokens: 160", "chunk_tokens: 120"))
    monkeypatch.setenv("PERSONA_CONFIG", str(config))
    paths = Paths.resolve(materials, data_dir)
    counted_parses.clear()
    chunks, rechunked, _, written = _full_build(paths, Embedder())
    lectures = sum(1 for p in materials.rglob("*") if p.is_file() and "lectures" in p.parts)
    assert counted_parses == [] and rechunked == lectures and written
    assert sum(c.kind == "lecture" for c in chunks) > sum(c.kind == "lecture" for c in before)
    assert [c.to_json() for c in chunks if c.kind != "lecture"] == [c.to_json() for c in before if c.kind != "lecture"]


@pytest.fixture
def cli(tmp_path, monkeypatch, materials, data_dir):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    # --materials / --data win over the environment's folders, which hold nothing
    monkeypatch.setenv("PERSONA_MATERIALS_DIR", "unused")
    monkeypatch.setenv("PERSONA_DATA_DIR", "unused")
    return lambda *extra: main(["index", "--materials", str(materials), "--data", str(data_dir), *extra])


def test_persona_index_with_nothing_changed_starts_no_run(cli, materials, data_dir, capsys):
    assert cli() == 0
    first = capsys.readouterr().out
    version = read_manifest(data_dir / "index")["version"]
    os.utime(materials / "articles/threshold_training.md")  # touched, same bytes: still nothing to do
    assert cli() == 0
    out = capsys.readouterr().out
    assert f"index version: {version} (unchanged)" in out and "no Dagster run" in out
    assert first.splitlines()[:2] == out.splitlines()[:2]  # the same files indexed and skipped

    (materials / "articles" / "cadence.md").write_text(NEW_ARTICLE)
    assert cli() == 0
    out = capsys.readouterr().out
    assert "no Dagster run" not in out and "Dagster run" in out and "(unchanged)" not in out

    shutil.rmtree(data_dir / "index")
    assert cli() == 0
    assert "no Dagster run" not in capsys.readouterr().out and read_manifest(data_dir / "index") is not None
    assert cli("--force") == 0
    assert "no Dagster run" not in capsys.readouterr().out
