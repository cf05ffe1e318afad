"""Embedding throughput: the project's embedder against plain `SentenceTransformer.encode` with its defaults,
on the same chunk texts, side by side in one run.

Texts: the chunks of the sample corpus, and of a generated corpus (--files copies of the samples, made
unique). Each setup embeds every text once per round; rounds alternate between the setups and the best
round of each counts, so a neighbour's burst of load skews the ratio less. Cosine is to plain fp32.

- plain: SentenceTransformer(packaged MiniLM).encode(texts), every argument at its default;
- project fp32: Embedder(precision="fp32").embed(texts): texts sorted by token length across the input;
- project: Embedder().embed(texts): the same, in the precision chosen for this CPU (a bf16 copy of the network where
  bf16 is native and measured faster, else fp32).

Usage: .venv/bin/python bench/embedding_throughput.py [--files 100] [--rounds 3]
"""
import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from corpus import SAMPLES, chunk_texts, machine, make_corpus

from persona_pipeline.measured import best_seconds


def report(label: str, texts: list[str], rounds: int, plain, fp32, auto) -> None:
    setups = {"plain encode defaults": lambda: plain.encode(texts),
              "project, fp32": lambda: fp32.embed(texts),
              f"project ({auto.precision})": lambda: auto.embed(texts)}
    best, vectors = best_seconds(rounds, setups)
    vectors = {name: np.asarray(v, dtype=np.float32) for name, v in vectors.items()}
    reference = vectors["plain encode defaults"]
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    print(f"{label}: {len(texts)} chunks, best of {rounds} rounds")
    for name, seconds in best.items():
        cosine = np.sum(vectors[name] / np.linalg.norm(vectors[name], axis=1, keepdims=True) * reference, axis=1)
        print(f"  {name:24s} {seconds:7.2f} s  {len(texts) / seconds:7.1f} chunks/s  "
              f"{best['plain encode defaults'] / seconds:5.2f}x plain  cosine to fp32 min {cosine.min():.5f} mean {cosine.mean():.5f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    from persona_pipeline.rag.embedding import Embedder, resolve_model

    work = Path(tempfile.mkdtemp(prefix="persona-embed-bench-"))
    try:
        samples = chunk_texts(SAMPLES, work / "samples-data")
        make_corpus(work / "generated", args.files)
        generated = chunk_texts(work / "generated", work / "generated-data")
        plain = SentenceTransformer(resolve_model("packaged"), device="cpu")
        fp32, auto = Embedder(precision="fp32"), Embedder()
        print(machine())
        print(f"project precision on this CPU: {auto.precision} (PERSONA_EMBED_PRECISION overrides)")
        for embedder in (fp32, auto):
            embedder.encoder  # loads each network (and makes the bf16 copy) outside the timing
            embedder.embed(samples[:8])
        plain.encode(samples[:8])
        report("sample corpus", samples, args.rounds, plain, fp32, auto)
        report(f"generated corpus ({args.files} files)", generated, args.rounds, plain, fp32, auto)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
