"""Hybrid top-5 query latency at 100k and 1M chunks, query encode included, on one thread; recall@10 of
the store's dense search (IVF above `exact_search_max_vectors`) against exact search; and what writing
the index version and the next one (one file of ten chunks added) costs at each size, the next one both
as the re-index writes it (a new segment beside the shared old one) and written whole.

The chunks are built from real text: each joins two sentences of the shipped samples (as the project
parses and chunks them, every format) and gets a unique tag, so BM25 sees the coach's own vocabulary and
posting lists as long as a big corpus of his would have. Embedding a million texts would take hours on
this CPU, so a chunk's vector is the normalised sum of its two passages' real embeddings (the second at
SECOND_WEIGHT) plus Gaussian noise: vectors cluster the way real ones do, which is what IVF's recall
depends on (random unit vectors have no clusters and no near neighbours). The queries are the grounded
set's questions in both languages, encoded at query time by the index's embedder, as `persona ask` does.

    .venv/bin/python bench/query_latency.py [--sizes 100000 1000000] [--queries 0 (all)]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from corpus import PROJECT, SAMPLES, chunk_texts, machine

from persona_pipeline.consilium.evaluation.grounded_set import load_grounded_set
from persona_pipeline.consilium.answer.sentences import statements
from persona_pipeline.rag.chunking import Chunk
from persona_pipeline.rag.embedding import open_embedder
from persona_pipeline.rag.index_store import load_index, write_index
from persona_pipeline.rag.retrieval import Retriever
from persona_pipeline.rag.vector_store import make_store
from persona_pipeline.rag_config import load_rag_config

SECOND_WEIGHT, NOISE = 0.5, 0.02  # the second passage's share of a chunk's vector; noise per dimension
MIN_PASSAGE_CHARS = 40
CHUNKS_PER_FILE = 10
TOP_K, RECALL_K = 5, 10
TMPFS = Path("/dev/shm")


def passages(work: Path) -> list[str]:
    """The sentences of the shipped samples' chunks, parsed and chunked by the project (every format)."""
    texts = chunk_texts(SAMPLES, work / "sample-data")
    return sorted({s.text for text in texts for s in statements(text) if len(s.text) >= MIN_PASSAGE_CHARS})


def synthetic(size: int, texts: list[str], embeddings: np.ndarray, rng) -> tuple[list[Chunk], np.ndarray]:
    pairs = rng.integers(0, len(texts), (size, 2))
    vectors = embeddings[pairs[:, 0]] + SECOND_WEIGHT * embeddings[pairs[:, 1]]
    vectors += rng.standard_normal(vectors.shape, dtype=np.float32) * NOISE
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [chunk(n, f"{texts[a]} {texts[b]} tag{n}") for n, (a, b) in enumerate(pairs)]
    return chunks, vectors.astype(np.float32)


def chunk(n: int, text: str) -> Chunk:
    source = f"file_{n // CHUNKS_PER_FILE:06d}.md"
    return Chunk(chunk_id=f"{source}#{n % CHUNKS_PER_FILE}", source=source, kind="article", title="t",
                 heading=None, location={}, text=text, content_hash=str(n), n_tokens=len(text.split()))


def percentile_ms(samples: list[float], q: int) -> float:
    return 1000 * statistics.quantiles(samples, n=100)[q - 1]


def timed(call, items) -> list[float]:
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append(time.perf_counter() - started)
    return times


def measure(size: int, texts: list[str], embeddings: np.ndarray, embedder, questions: list[str],
            config, work: Path) -> dict:
    rng = np.random.default_rng(size)
    chunks, vectors = synthetic(size, texts, embeddings, rng)
    index_dir = work / str(size)
    store = make_store(config.index, index_dir)
    started = time.perf_counter()
    write_index(index_dir, chunks, vectors, model=embedder.name, dim=vectors.shape[1], files={}, store=store)
    write_s = time.perf_counter() - started

    added, added_vectors = synthetic(CHUNKS_PER_FILE, texts, embeddings, rng)
    added = [chunk(size + n, c.text.replace(f"tag{n}", f"tag{size + n}")) for n, c in enumerate(added)]
    all_vectors = np.vstack([vectors, added_vectors])
    started = time.perf_counter()
    manifest, _ = write_index(index_dir, chunks + added, all_vectors, model=embedder.name, dim=vectors.shape[1],
                              files={}, store=store)
    update_s = time.perf_counter() - started
    # the same version written whole, as every version was before segments
    rewrite_dir = work / f"{size}-rewritten"
    started = time.perf_counter()
    write_index(rewrite_dir, chunks + added, all_vectors, model=embedder.name, dim=vectors.shape[1], files={},
                store=make_store(config.index, rewrite_dir))
    rewrite_s = time.perf_counter() - started
    shutil.rmtree(rewrite_dir)
    del chunks, vectors

    started = time.perf_counter()
    index = load_index(index_dir)
    load_s = time.perf_counter() - started
    retriever = Retriever.from_config(index, embedder, config.retrieval)
    retriever.search(questions[0], k=TOP_K)  # first-call set-up is start-up, not a query
    hybrid = timed(lambda q: retriever.search(q, k=TOP_K), questions)
    encode = timed(embedder.embed_query, questions)
    dense = timed(lambda q: retriever.search(q, k=TOP_K, mode="dense"), questions)
    lexical = timed(lambda q: retriever.search(q, k=TOP_K, mode="bm25"), questions)

    # row n of the vectors written is the chunk numbered n (its content hash)
    vector_id = {int(c.content_hash): vid for vid, c in index.chunks.items()}
    recalls = []
    for question in questions:
        query = embedder.embed_query(question)
        exact = {vector_id[int(row)] for row in np.argsort(-(all_vectors @ query))[:RECALL_K]}
        found = {vid for vid, _ in index.vectors.search(query, RECALL_K)}
        recalls.append(len(exact & found) / RECALL_K)
    return {"write_s": write_s, "update_s": update_s, "rewrite_s": rewrite_s, "load_s": load_s, "layout": manifest["vector_store"]["index"],
            "hybrid_p50": percentile_ms(hybrid, 50), "hybrid_p95": percentile_ms(hybrid, 95),
            "encode_p50": percentile_ms(encode, 50), "dense_p50": percentile_ms(dense, 50),
            "bm25_p50": percentile_ms(lexical, 50), "recall": float(np.mean(recalls))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=0, help="grounded-set questions to time (0 = all)")
    args = parser.parse_args()
    config = load_rag_config(PROJECT / "RAG_config.yaml")
    embedder = open_embedder(config.embedding.model)
    work = Path(tempfile.mkdtemp(prefix="persona-query-bench-", dir=TMPFS if TMPFS.is_dir() else None))
    texts = passages(work)
    embeddings = embedder.embed(texts)
    questions = [q.question for q in load_grounded_set(PROJECT / "eval" / "grounded_questions.yaml")]
    questions = questions[:args.queries] if args.queries else questions
    if len(questions) < 2:
        parser.error("percentiles need at least 2 questions")
    threadpool_limits(1)  # OpenMP (FAISS), BLAS and torch: one query at a time on one thread
    import torch

    torch.set_num_threads(1)
    print(machine())
    print(f"{len(texts)} sample sentences, two per chunk; {len(questions)} questions; hybrid top-{TOP_K}; "
          f"IVF above {config.index.exact_search_max_vectors:,} vectors")
    try:
        print(f"{'chunks':>10}  {'layout queried':<28}{'write s':>9}{'+1 file s':>10}{'rewrite s':>10}{'load s':>8}{'hybrid p50':>11}"
              f"{'p95':>7}{'encode':>8}{'dense':>7}{'bm25':>7}{'recall@10':>10}  (ms)")
        for size in args.sizes:
            r = measure(size, texts, embeddings, embedder, questions, config, work)
            print(f"{size:>10,}  {r['layout']:<28}{r['write_s']:>9.1f}{r['update_s']:>10.1f}{r['rewrite_s']:>10.1f}{r['load_s']:>8.1f}"
                  f"{r['hybrid_p50']:>11.1f}{r['hybrid_p95']:>7.1f}{r['encode_p50']:>8.1f}{r['dense_p50']:>7.1f}"
                  f"{r['bm25_p50']:>7.1f}{r['recall']:>10.3f}", flush=True)
            shutil.rmtree(work / str(size), ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
