"""FAISS files or a Qdrant collection for the index vectors? Measures, side by side in one run, for each
store and corpus size:

- build: the first index version (vectors, BM25, chunk store, manifest), and the store's own share of it;
- update: the next version after 1% of the chunks changed, 0.5% were deleted and 0.5% added;
- query: dense top-50 p50 and p95 over the current version, without and with a knowledge-type filter
  (up to --queries queries, fewer when a store's queries take longer than QUERY_BUDGET_S in all);
- disk: what the store's files take.

The chunks are synthetic (short texts, four knowledge types) and the vectors random unit vectors of
all-MiniLM-L6-v2's 384 dimensions, so no embedding time is included: the stores are what is compared.
Qdrant runs in the client's local mode (a folder; brute-force search in this process, payload filters
evaluated in Python, points pickled to SQLite with a commit per point), the stand-in the tests use; a
Qdrant server answers with an HNSW index and payload indexes instead. The work folder is on /dev/shm
where there is one: on a disk, local mode's commit per point dominates everything else.

Everything runs on one thread (one query at a time is the case that matters; with two OpenMP threads
on a busy 2-core machine a single FAISS query waits milliseconds on its threads).

Usage: .venv/bin/python bench/vector_store_bench.py [--sizes 10000 100000] [--queries 200]
"""
import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cpu import describe_cpu

from persona_pipeline.rag.chunking import Chunk
from persona_pipeline.rag.index_store import load_index, write_index
from persona_pipeline.rag.vector_store import make_store
from persona_pipeline.rag_config import IndexConfig, QdrantConfig

DIM = 384
KINDS = ("article", "lecture", "training_log", "example")
WORDS = "tempo threshold taper recovery sleep interval hill easy long race pace cadence volume".split()
CHANGED, DELETED, ADDED = 0.01, 0.005, 0.005
QUERY_BUDGET_S, MIN_QUERIES = 60, 5
TMPFS = Path("/dev/shm")


def synthetic_chunk(n: int, edit: int = 0) -> Chunk:
    text = " ".join(WORDS[(n * 7 + i + edit) % len(WORDS)] for i in range(12)) + f" session {n} edit {edit}"
    return Chunk(chunk_id=f"file_{n // 10:06d}.md#{n % 10}", source=f"file_{n // 10:06d}.md", kind=KINDS[n % len(KINDS)],
                 title="t", heading=None, location={}, text=text, content_hash=f"{n}-{edit}", n_tokens=16)


def unit_vectors(n: int, rng) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class TimedStore:
    """Times the store's own part of a version write."""

    def __init__(self, store):
        self.store, self.seconds = store, 0.0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def write(self, *args):
        started = time.perf_counter()
        try:
            return self.store.write(*args)
        finally:
            self.seconds = time.perf_counter() - started


def percentile_ms(samples: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(samples, n=100)[int(q) - 1]


def query_times(index, queries: np.ndarray, kind: str | None) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        index.vectors.search(query, 50, kind)
        times.append(time.perf_counter() - started)
        if len(times) >= MIN_QUERIES and sum(times) > QUERY_BUDGET_S:
            break
    return times


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def measure(kind: str, size: int, queries: int, work: Path) -> dict:
    rng = np.random.default_rng(size)
    index_dir = work / f"{kind}-{size}" / "index"
    store = TimedStore(make_store(IndexConfig(store=kind, qdrant=QdrantConfig(path="qdrant")), index_dir))
    chunks, vectors = [synthetic_chunk(n) for n in range(size)], unit_vectors(size, rng)

    started = time.perf_counter()
    write_index(index_dir, chunks, vectors, model="synthetic", dim=DIM, files={}, store=store)
    build_s, build_store_s = time.perf_counter() - started, store.seconds

    changed = rng.choice(size, int(size * CHANGED), replace=False)
    for n in changed:
        chunks[n] = synthetic_chunk(n, edit=1)
    vectors[changed] = unit_vectors(len(changed), rng)
    keep = np.ones(size, dtype=bool)
    keep[rng.choice(np.setdiff1d(np.arange(size), changed), int(size * DELETED), replace=False)] = False
    added = range(size, size + int(size * ADDED))
    chunks = [c for c, k in zip(chunks, keep) if k] + [synthetic_chunk(n) for n in added]
    vectors = np.vstack([vectors[keep], unit_vectors(len(added), rng)])
    started = time.perf_counter()
    manifest, _ = write_index(index_dir, chunks, vectors, model="synthetic", dim=DIM, files={}, store=store)
    update_s, update_store_s = time.perf_counter() - started, store.seconds

    index = load_index(index_dir)
    assert index.vectors.count() == len(chunks) == manifest["vectors"]
    probes = unit_vectors(queries, rng)
    plain, filtered = query_times(index, probes, None), query_times(index, probes, "lecture")
    version = index_dir / "versions" / manifest["version"] / "segments"
    disk = folder_mb(index_dir / "qdrant") if kind == "qdrant" else \
        sum(file.stat().st_size for file in version.glob("*/vectors.faiss")) / 2**20
    return {"build_s": build_s, "build_store_s": build_store_s, "update_s": update_s, "update_store_s": update_store_s,
            "queries": len(plain), "p50_ms": percentile_ms(plain, 50), "p95_ms": percentile_ms(plain, 95),
            "filtered_p50_ms": percentile_ms(filtered, 50), "disk_mb": disk, "layout": manifest["vector_store"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    threadpool_limits(1)  # OpenMP (FAISS) and BLAS (numpy, Qdrant's local mode), for the rest of the run
    print(f"{describe_cpu()}; 1 thread")
    print(f"synthetic chunks, random unit vectors ({DIM} dims); update = {CHANGED:.1%} changed, {DELETED:.1%} deleted, "
          f"{ADDED:.1%} added; query = dense top-50, {args.queries} queries")
    work = Path(tempfile.mkdtemp(prefix="persona-store-bench-", dir=TMPFS if TMPFS.is_dir() else None))
    print(f"work folder: {work}")
    try:
        header = (f"{'store':<8}{'chunks':>9}{'build s':>9}{'(store)':>9}{'update s':>10}{'(store)':>9}"
                  f"{'queries':>8}{'p50 ms':>9}{'p95 ms':>9}{'type p50':>10}{'disk MB':>9}")
        print(header)
        results = {}
        for size in args.sizes:
            for kind in ("faiss", "qdrant"):
                r = results[kind, size] = measure(kind, size, args.queries, work)
                print(f"{kind:<8}{size:>9,}{r['build_s']:>9.2f}{r['build_store_s']:>9.2f}{r['update_s']:>10.2f}"
                      f"{r['update_store_s']:>9.2f}{r['queries']:>8}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['filtered_p50_ms']:>10.2f}"
                      f"{r['disk_mb']:>9.1f}", flush=True)
            faiss, qdrant = results["faiss", size], results["qdrant", size]
            print(f"  qdrant/faiss at {size:,}: build {qdrant['build_s'] / faiss['build_s']:.2f}x, "
                  f"update {qdrant['update_s'] / faiss['update_s']:.2f}x, query p50 {qdrant['p50_ms'] / faiss['p50_ms']:.1f}x; "
                  f"qdrant update wrote {qdrant['layout']['upserted']:,} points and retired {qdrant['layout']['retired']:,}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
