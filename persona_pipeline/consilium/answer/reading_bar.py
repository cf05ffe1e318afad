"""Whether generated text may be shown in the coach's name: a bar measured per base model, not a flag.

On held-out worldview dialogues (questions training never saw, with the coach's own answers), the adapters
answer each question from their weights alone. A dialogue passes when that text is, under the multilingual
meaning encoder, closer to the coach's own answer than to any other held-out answer, and states no figure
that the question lacks. The base model clears the bar when at least READING_BAR of the dialogues pass.
consilium_eval measures it and logs it to MLflow; the verdict is kept beside the data (VERDICT_FILE), keyed
by the base model and its revision, and `persona ask` shows a generated reading only for a base model whose
verdict passed. Until one is measured, answers are the coach's quotes alone.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ...atomic import write_text
from .faithfulness import unsupported_numbers

# the share of held-out dialogues whose generated answer must be nearest the coach's own
READING_BAR = 0.8
# fewer dialogues than this say too little to clear the bar (two pass by chance half the time)
MIN_DIALOGUES = 6
VERDICT_FILE = Path("consilium") / "reading_bar.json"


@dataclass(frozen=True)
class ReadingVerdict:
    base_model: str
    revision: str
    dialogues: int
    passed_dialogues: int
    invented_figures: int

    @property
    def share(self) -> float:
        return self.passed_dialogues / self.dialogues if self.dialogues else 0.0

    @property
    def passed(self) -> bool:
        return self.dialogues >= MIN_DIALOGUES and self.share >= READING_BAR

    def describe(self) -> str:
        return (f"{self.passed_dialogues} of {self.dialogues} held-out dialogues ({self.share:.2f}) answered closer "
                f"to the coach's own answer than to the others, {self.invented_figures} with an invented figure; "
                f"the bar is {READING_BAR:.2f} of at least {MIN_DIALOGUES}")


def measure(generated: list[str], questions: list[str], references: list[str], encoder, base_model: str,
            revision: str) -> ReadingVerdict:
    """`generated[i]` answers `questions[i]`, whose coach's answer is `references[i]`."""
    passed, invented = 0, 0
    written = [i for i, text in enumerate(generated) if text.strip()]
    if written:
        nearest = np.argmax(encoder.passages([generated[i] for i in written]) @ encoder.passages(references).T, axis=1)
        for i, reference in zip(written, nearest):
            figures = bool(unsupported_numbers(generated[i], questions[i]))
            invented += figures
            passed += int(not figures and reference == i)
    return ReadingVerdict(base_model, revision, len(generated), passed, invented)


def save(data_dir: Path, verdict: ReadingVerdict) -> None:
    path = data_dir / VERDICT_FILE
    verdicts = _read(path)
    verdicts[_key(verdict.base_model, verdict.revision)] = asdict(verdict)
    write_text(path, json.dumps(verdicts, indent=1, sort_keys=True))


def load(data_dir: Path, base_model: str, revision: str) -> ReadingVerdict | None:
    found = _read(data_dir / VERDICT_FILE).get(_key(base_model, revision))
    return ReadingVerdict(**found) if found else None


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _key(base_model: str, revision: str) -> str:
    return f"{base_model}@{revision}"
