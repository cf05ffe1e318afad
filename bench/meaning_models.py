"""Which encoder reads a question's meaning best: each candidate ranks the sentences of the retrieved pool
for the development questions of the foreign set, side by side in one run.

For every answerable question, the hybrid retriever's top --pool excerpts are split into sentences; each
encoder ranks them by cosine with the question. Printed per encoder and language: the share of questions
whose fact is in a sentence at rank 1, in the top 3 and in the top 5 (of those whose fact the pool holds),
how well the best cosine tells answerable questions from near misses (ROC AUC), and milliseconds per
question. The index embedder (the packaged MiniLM) is the baseline. Only the dev split is read.

    .venv/bin/python bench/meaning_models.py [--pool 10] [--data DIR] [--set dev]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from persona_pipeline.consilium.evaluation.foreign_set import load_split
from persona_pipeline.consilium.evaluation.grounded_set import contains_fact
from persona_pipeline.consilium.runtime.meaning import ENCODERS, open_encoder
from persona_pipeline.consilium.answer.sentences import statements
from persona_pipeline.defs.runs import open_foreign_retriever

RANKS = (1, 3, 5)


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """The probability that a random answerable question's best cosine beats a random near miss's."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", type=int, default=10, help="excerpts retrieved per question")
    parser.add_argument("--data", help="data folder for the foreign index (default: data/foreign)")
    parser.add_argument("--set", default="dev", choices=["dev"], help="only the dev split is ever used for a choice")
    args = parser.parse_args()
    retriever = open_foreign_retriever(args.data)
    questions = load_split(args.set)
    pools = []
    for q in questions:
        hits = retriever.search(q.question, k=args.pool)
        sentences = [s.text for h in hits for s in statements(h.chunk.text)]
        pools.append((q, sentences))
    encoders = {"minilm (index)": None, **{name: open_encoder(name) for name in ENCODERS}}
    print(f"{len(questions)} questions ({sum(q.answerable for q in questions)} answerable), pool {args.pool}")
    print("| encoder | language | fact in pool | rank 1 | top 3 | top 5 | AUC answerable vs near miss | ms/question |")
    print("|---|---|---|---|---|---|---|---|")
    for label, encoder in encoders.items():
        per_language: dict[str, dict[str, list]] = {}
        started = time.perf_counter()
        for q, sentences in pools:
            if encoder is None:
                vectors = retriever.embedder.embed([q.question, *sentences]) if sentences else None
                cosines = vectors[1:] @ vectors[0] if sentences else np.zeros(0)
            else:
                cosines = encoder.similarities(q.question, sentences)
            stats = per_language.setdefault(q.language, {"ranks": [], "pool": [], "best_yes": [], "best_no": []})
            best = float(cosines.max()) if len(cosines) else 0.0
            if not q.answerable:
                stats["best_no"].append(best)
                continue
            stats["best_yes"].append(best)
            order = np.argsort(-cosines)
            holding = [r for r, i in enumerate(order, start=1) if contains_fact(sentences[i], q.answer)]
            stats["pool"].append(bool(holding))
            if holding:
                stats["ranks"].append(holding[0])
        ms = (time.perf_counter() - started) * 1000 / len(pools)
        for code, stats in sorted(per_language.items()):
            ranks = stats["ranks"]
            cells = [f"{np.mean(stats['pool']):.2f}"] + [f"{np.mean([r <= n for r in ranks]):.2f}" if ranks else "n/a"
                                                         for n in RANKS]
            area = auc(stats["best_yes"], stats["best_no"])
            print(f"| {label} | {code} | " + " | ".join(cells) + f" | {'n/a' if area is None else f'{area:.2f}'} "
                  f"| {ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
