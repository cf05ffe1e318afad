"""One adapter's conversations: its worldview examples checked against the base model's context, built into
its SFT dataset, and its held-out set in the shape training saw."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..settings import Paths
from ..training.adapters import AdapterSpec
from ..training.base_model import BaseModel, load_tokenizer
from ..training.settings import TrainingSettings
from ..worldview_schema import Example, Problem
from .dataset import SftDataset, build_dataset, with_system_prompt
from .validation import load_and_validate

Augment = Callable[[list[dict]], list[list[dict]]]


@dataclass
class DatasetResult:
    dataset: SftDataset
    problems: list[Problem]
    token_lengths: list[int]


def conversation_counter(tokenizer) -> Callable[[list[dict]], int]:
    """Tokens of a conversation rendered with the tokenizer's chat template."""
    return lambda messages: len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])


def validate_examples(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, tokenizer=None) -> tuple[list[Example], list[Problem]]:
    """The adapter's valid examples and every problem; with a tokenizer, an example that does not fit
    max_seq_length (system prompt included) is a problem too."""
    count = None
    if tokenizer is not None:
        counter = conversation_counter(tokenizer)
        count = lambda messages: counter(with_system_prompt(messages, settings.system_prompt))  # noqa: E731
    return load_and_validate(paths.materials_dir / spec.examples_folder, paths.materials_dir, count,
                             settings.max_seq_length if tokenizer is not None else None)


def build_sft_dataset(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, base: BaseModel,
                      augment: Augment | None = None) -> DatasetResult:
    """`augment`: see sft.dataset.build_dataset (the retrieval-augmented variants, when they are switched on)."""
    tokenizer = load_tokenizer(base)
    examples, problems = validate_examples(spec, paths, settings, tokenizer)
    dataset = build_dataset(examples, paths.data_dir / "sft" / spec.key, system_prompt=settings.system_prompt,
                            eval_fraction=settings.eval_fraction, augment=augment)
    counter = conversation_counter(tokenizer)
    lengths = [counter(m) for split in ("train", "eval") for m in dataset.data[split]["messages"]]
    return DatasetResult(dataset, problems, lengths)


def load_heldout(spec: AdapterSpec, settings: TrainingSettings) -> list[list[dict]]:
    """The adapter's held-out conversations with the run's system prompt; an invalid one is an error."""
    examples, problems = load_and_validate(spec.heldout_file.parent, spec.heldout_file.parent.parent)
    examples = [e for e in examples if Path(e.file).name == spec.heldout_file.name]
    if problems:
        raise ValueError("held-out examples are invalid:\n" + "\n".join(str(p) for p in problems))
    return [with_system_prompt(e.messages, settings.system_prompt) for e in examples]
