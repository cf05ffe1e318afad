"""Validated examples to a Hugging Face chat dataset: deterministic split, content digest, atomic save."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from datasets import Dataset, DatasetDict, load_from_disk

from ..atomic import staged_dir, write_text
from ..worldview_schema import Example
from .validation import conversation_key

LATEST = "LATEST"
AUGMENTED_TAG = "retrieval-augmented"


@dataclass
class SftDataset:
    path: Path
    digest: str
    data: DatasetDict


def with_system_prompt(messages: list[dict], system_prompt: str | None) -> list[dict]:
    if system_prompt and (not messages or messages[0]["role"] != "system"):
        return [{"role": "system", "content": system_prompt}] + messages
    return messages


def split_of(example: Example, eval_fraction: float) -> str:
    """By a hash of the id, so adding examples never moves an old one between train and eval."""
    bucket = int(hashlib.sha256(example.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "eval" if bucket < eval_fraction else "train"


class EmptyDataset(ValueError):
    pass


def build_dataset(examples: list[Example], out_dir: Path, *, system_prompt: str | None, eval_fraction: float,
                  augment: Callable[[list[dict]], list[list[dict]]] | None = None) -> SftDataset:
    """`augment(messages)` adds variants of each training conversation (retrieval-augmented ones); the eval
    split stays as written, so eval losses compare across datasets built with and without it."""
    if len(examples) < 2:
        raise EmptyDataset(f"{len(examples)} valid example(s): at least 2 are needed for a train and an eval split")
    rows = {"train": [], "eval": []}
    for example in sorted(examples, key=lambda e: e.id):
        split = split_of(example, eval_fraction)
        messages = with_system_prompt(example.messages, system_prompt)
        rows[split].append({"id": example.id, "messages": messages, "tags": example.tags, "source": example.where})
        if augment and split == "train":
            rows[split] += [{"id": f"{example.id}+rag{i}", "messages": variant, "tags": [*example.tags, AUGMENTED_TAG],
                             "source": example.where} for i, variant in enumerate(augment(messages), start=1)]
    if not rows["eval"] and len(rows["train"]) > 1:
        rows["eval"].append(rows["train"].pop())
    digest = _digest({split: [r["messages"] for r in split_rows] for split, split_rows in rows.items()})
    target = out_dir / digest[:16]
    if not (target / "dataset_dict.json").exists():
        data = DatasetDict({split: Dataset.from_list(split_rows) for split, split_rows in rows.items()})
        with staged_dir(target) as staging:
            data.save_to_disk(str(staging))
    write_text(out_dir / LATEST, target.name)
    return SftDataset(target, digest, load_from_disk(str(target)))


def load_latest(out_dir: Path) -> SftDataset:
    try:
        name = (out_dir / LATEST).read_text().strip()
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"no SFT dataset in {out_dir}: materialize the dataset asset first") from exc
    data = load_from_disk(str(out_dir / name))
    return SftDataset(out_dir / name, _digest({split: data[split]["messages"] for split in ("train", "eval")}), data)


def _digest(conversations_by_split: dict[str, list[list[dict]]]) -> str:
    """Of the conversations in each split, so the same examples give the same dataset and folder."""
    keys = {split: [conversation_key(m) for m in conversations] for split, conversations in conversations_by_split.items()}
    return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()

