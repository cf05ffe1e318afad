"""The consilium's outcomes on the foreign set (third-party texts, questions written from the texts alone),
per split and language: what the issue's bar reads, on the evidence alone (the quotes are what is shown
while the base model has not cleared the reading bar).

Columns, over answerable questions: the fact shown (in a direct or a closest answer), a direct answer that
holds the fact, "not written"; over near misses: closest or not written (never a direct answer).

    .venv/bin/python bench/foreign_answers.py [--splits dev test] [--data DIR]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from persona_pipeline.consilium.evaluation.foreign_set import MATERIALS_DIR, load_split
from persona_pipeline.consilium.evaluation.grounded_set import contains_fact
from persona_pipeline.consilium.runtime.loading import open_consilium
from persona_pipeline.defs.runs import open_foreign_retriever
from persona_pipeline.settings import Paths

COLUMNS = ("fact shown", "direct with the fact", "answerable: not written", "near misses: closest or not written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", nargs="+", default=["dev", "test"], choices=["dev", "test"])
    parser.add_argument("--data", help="data folder for the foreign index (default: data/foreign)")
    args = parser.parse_args()
    open_foreign_retriever(args.data)  # indexes the foreign materials (a no-op when unchanged)
    consilium = open_consilium(Paths.resolve(MATERIALS_DIR, args.data or Paths.resolve().data_dir / "foreign"))
    print("| split | language | questions (near misses) | " + " | ".join(COLUMNS) + " | s/question |")
    print("|---|---|---|" + "---|" * (len(COLUMNS) + 1))
    for split in args.splits:
        questions = load_split(split)
        for code in ("en", "ru"):
            mine = [q for q in questions if q.language == code]
            started = time.perf_counter()
            shown, direct, refused, near_ok = [], [], [], []
            for q in mine:
                answer = consilium.ask(q.question, generate=False)
                if q.answerable:
                    shown.append(answer.outcome != "not_written" and contains_fact(answer.text, q.answer))
                    direct.append(answer.outcome == "direct" and contains_fact(answer.text, q.answer))
                    refused.append(answer.outcome == "not_written")
                else:
                    near_ok.append(answer.outcome != "direct")
            seconds = (time.perf_counter() - started) / max(len(mine), 1)
            cells = [f"{np.mean(v):.2f}" if v else "n/a" for v in (shown, direct, refused, near_ok)]
            print(f"| {split} | {code} | {len(mine)} ({len(near_ok)}) | " + " | ".join(cells) + f" | {seconds:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
