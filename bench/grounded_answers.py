"""The grounded question set answered by every consilium configuration side by side, in one run: base,
base+RAG, adapters, adapters+RAG and the evidence alone, on the index in data/ and the champion adapters in
the MLflow store (what `bash scripts/demo.sh` leaves behind).

Prints, per configuration, the checks of consilium/evaluation/grounded_eval.py over all questions (or --limit of
them, spread over the set), with per-language columns, and the seconds it took.

    .venv/bin/python bench/grounded_answers.py [--set eval/grounded_questions.yaml] [--limit 0] [--configurations ...]
"""
from __future__ import annotations

import argparse
import time


from persona_pipeline.consilium.evaluation.ablations import evaluate_consilium
from persona_pipeline.consilium.evaluation.grounded_eval import CONFIGURATIONS
from persona_pipeline.consilium.evaluation.grounded_set import load_grounded_set, spread
from persona_pipeline.consilium.runtime.loading import open_consilium
from persona_pipeline.settings import PROJECT_DIR, Paths

COLUMNS = ("fact_in_answer_when_retrieved_en", "fact_in_answer_when_retrieved_ru", "token_f1", "unsupported_number",
           "in_language_en", "in_language_ru", "citation_holds_fact_when_retrieved", "abstained_unanswerable",
           "abstained_answerable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="eval/grounded_questions.yaml")
    parser.add_argument("--limit", type=int, default=0, help="questions, spread over the set (0: all)")
    parser.add_argument("--configurations", nargs="+", default=list(CONFIGURATIONS), choices=list(CONFIGURATIONS))
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    questions = spread(load_grounded_set(PROJECT_DIR / args.set), args.limit)
    consilium = open_consilium(Paths.resolve())
    print(f"{len(questions)} questions ({sum(q.answerable for q in questions)} answerable); adapters: "
          f"{'; '.join(consilium.adapters.available.values()) or 'none'}")
    print("| configuration | " + " | ".join(COLUMNS) + " | seconds |")
    print("|---|" + "---|" * (len(COLUMNS) + 1))
    for name in args.configurations:
        started = time.perf_counter()
        results = evaluate_consilium(consilium, consilium.retriever.embedder, [], [], questions, args.max_new_tokens,
                                     configurations={name: CONFIGURATIONS[name]})
        summary = results["grounded"][name]
        cells = ["n/a" if summary.get(c) is None else f"{summary[c]:.2f}" for c in COLUMNS]
        print(f"| {name} | " + " | ".join(cells) + f" | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
