"""Per-file partitions or one incremental asset? Measures, side by side in one run:

- embedding-only time for the whole corpus (the floor any design pays on a first load);
- first load of the folder through the incremental Dagster chain;
- re-index after adding one file (what the sensor triggers);
- one no-op Dagster run, i.e. the fixed cost a run-per-file design pays for every file.

Usage: .venv/bin/python bench/reindex_bench.py [--files 200]
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import SAMPLES, materialize_knowledge, metadata  # noqa: E402

from persona_pipeline.defs.resources import _cached_embedder  # noqa: E402
from persona_pipeline.knowledge_config import load_config  # noqa: E402
from persona_pipeline.rag.build import read_chunks  # noqa: E402
from persona_pipeline.settings import PROJECT_DIR, Paths  # noqa: E402


def make_corpus(target: Path, files: int) -> None:
    """Copies of the sample articles and lectures, each made unique so nothing is served from cache."""
    sources = [p for p in SAMPLES.rglob("*") if p.suffix in {".md", ".vtt", ".srt", ".csv"}]
    for n in range(files):
        source = sources[n % len(sources)]
        dest = target / source.relative_to(SAMPLES).parent / f"{source.stem}_{n:04d}{source.suffix}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8").replace("Sokolov", f"Sokolov-{n}").replace("Соколов", f"Соколов-{n}")
        dest.write_text(text.replace("Anna", f"Anna{n}").replace("Orlov", f"Orlov{n}"), encoding="utf-8")


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="persona-bench-"))
    try:
        materials, data = work / "materials", work / "data"
        make_corpus(materials, args.files)
        config = load_config(PROJECT_DIR / "RAG_config.yaml")
        embedder = _cached_embedder(config.embedding_model, config.embedding_batch_size)
        instance = dg.DagsterInstance.ephemeral()

        first_s, first = timed(lambda: materialize_knowledge(materials, data, instance=instance))
        chunks = read_chunks(Paths.resolve(materials, data))
        embed_s, _ = timed(lambda: embedder.embed([c.embed_text for c in chunks]))
        noop_s, _ = timed(lambda: materialize_knowledge(materials, data, instance=instance))
        (materials / "lectures" / "added.vtt").write_text(
            "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nA new lecture about cadence drills.\n")
        add_s, added = timed(lambda: materialize_knowledge(materials, data, instance=instance))

        n_chunks = metadata(first, "knowledge_index")["chunks"]
        print(f"corpus: {args.files} files, {n_chunks} chunks, model {embedder.name} (dim {embedder.dim})")
        print(f"embedding only (floor):          {embed_s:7.2f} s")
        print(f"first load, incremental chain:   {first_s:7.2f} s   = {first_s / embed_s:.2f}x the embedding floor")
        print(f"no-op run (fixed cost per run):  {noop_s:7.2f} s")
        print(f"re-index after one added file:   {add_s:7.2f} s   ({metadata(added, 'chunk_embeddings')['newly_embedded']} chunk(s) embedded)"
              f" = {add_s / first_s:.3f}x the first load")
        print(f"run-per-file first load, estimated from the fixed cost: {args.files * noop_s + embed_s:7.1f} s"
              f" = {(args.files * noop_s + embed_s) / first_s:.1f}x the incremental chain")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
