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
    rows = _split_rows(examples, system_prompt, eval_fraction, augment)
    digest = _digest({split: [r["messages"] for r in split_rows] for split, split_rows in rows.items()})
    target = out_dir / digest[:16]
    if not (target / "dataset_dict.json").exists():
        data = DatasetDict({split: Dataset.from_list(split_rows) for split, split_rows in rows.items()})
        with staged_dir(target) as staging:
            data.save_to_disk(str(staging))
    write_text(out_dir / LATEST, target.name)
    return SftDataset(target, digest, load_from_disk(str(target)))


def dataset_digest(examples: list[Example], *, system_prompt: str | None, eval_fraction: float) -> str:
    """The digest build_dataset gives these examples (without retrieval-augmented variants), without building it."""
    rows = _split_rows(examples, system_prompt, eval_fraction, None)
    return _digest({split: [r["messages"] for r in split_rows] for split, split_rows in rows.items()})


def _split_rows(examples: list[Example], system_prompt: str | None, eval_fraction: float,
                augment: Callable[[list[dict]], list[list[dict]]] | None) -> dict[str, list[dict]]:
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
    return rows


def changed_examples(before: DatasetDict | None, after: DatasetDict) -> dict[str, list[str]]:
    """Example ids added, changed (another conversation under the same id) and removed between two datasets."""
    def conversations(data: DatasetDict | None) -> dict[str, str]:
        if data is None:
            return {}
        return {row["id"]: conversation_key(row["messages"]) for split in ("train", "eval") for row in data[split]}

    old, new = conversations(before), conversations(after)
    return {"added": sorted(set(new) - set(old)), "changed": sorted(i for i in set(new) & set(old) if new[i] != old[i]),
            "removed": sorted(set(old) - set(new))}


def load_dataset_at(out_dir: Path, digest: str) -> DatasetDict | None:
    """The dataset saved under this digest (its first 16 characters), if it is still on disk."""
    folder = out_dir / digest[:16]
    return load_from_disk(str(folder)) if (folder / "dataset_dict.json").exists() else None


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

