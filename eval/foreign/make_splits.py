"""Draws the dev/test splits the project reads from the questions the writers left per language
(eval/foreign/{en,ru}/questions.yaml, about the texts in eval/foreign/materials/).

The split is drawn once, by a hash of each question's id within its language and kind (answerable or
near miss), half to `dev` and half to `test`, so no choice of the answering code can steer it.

    python3 eval/foreign/make_splits.py
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "ru")


def main() -> None:
    questions = []
    for code in LANGUAGES:
        questions += yaml.safe_load((HERE / code / "questions.yaml").read_text(encoding="utf-8"))
    splits = {"dev": [], "test": []}
    groups: dict[tuple, list[dict]] = {}
    for item in questions:
        groups.setdefault((item["language"], bool(item.get("unanswerable"))), []).append(item)
    for _, items in sorted(groups.items()):
        items.sort(key=lambda i: hashlib.sha256(str(i["id"]).encode()).hexdigest())
        half = (len(items) + 1) // 2
        splits["dev"] += items[:half]
        splits["test"] += items[half:]
    for name, items in splits.items():
        header = (f"# The foreign set's {name} split ({'for choices and fitting' if name == 'dev' else 'reported only, never used for a choice'}),\n"
                  "# drawn by eval/foreign/make_splits.py from eval/foreign/{en,ru}/questions.yaml.\n")
        (HERE / f"{name}.yaml").write_text(header + yaml.safe_dump(items, allow_unicode=True, sort_keys=False),
                                           encoding="utf-8")
        print(f"{name}: {len(items)} questions")


if __name__ == "__main__":
    main()
