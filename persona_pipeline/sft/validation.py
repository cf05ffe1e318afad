"""Validation as strict as torchtune's: every problem, with file, line or id, and field."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from ..worldview_schema import Example, Problem, example_files, read_examples, structure_problems


def load_and_validate(folder: Path, root: Path, count_tokens: Callable[[list[dict]], int] | None = None,
                      max_tokens: int | None = None) -> tuple[list[Example], list[Problem]]:
    """All valid examples under `folder` and every problem found; `count_tokens` renders a conversation
    with the base model's chat template and counts it, for the context-length check."""
    examples, problems = [], []
    for path in example_files(folder):
        found, bad = read_examples(path, path.relative_to(root).as_posix())
        examples += found
        problems += bad
    valid = []
    for example in examples:
        issues = structure_problems(example)
        if not issues and count_tokens and max_tokens:
            n = count_tokens(example.messages)
            if n > max_tokens:
                issues.append(Problem.about(example, "messages", f"too long: {n} tokens > max_seq_length {max_tokens}"))
        problems += issues
        if not issues:
            valid.append(example)
    kept, duplicates = _without_duplicates(valid)
    if not examples and not problems:
        problems.append(Problem(folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder),
                                None, None, "folder", "no examples found (*.yaml, *.yml or *.jsonl)"))
    return kept, sorted(problems + duplicates, key=lambda p: (p.file, p.line or 0))


def conversation_key(messages: list[dict]) -> str:
    normal = [(m["role"], " ".join(m["content"].split()).lower()) for m in messages]
    return hashlib.sha256(json.dumps(normal, ensure_ascii=False).encode()).hexdigest()


def _without_duplicates(examples: list[Example]) -> tuple[list[Example], list[Problem]]:
    kept, problems, ids, conversations = [], [], {}, {}
    for example in examples:
        key = conversation_key(example.messages)
        if example.id in ids:
            problems.append(Problem.about(example, "id", f"duplicate id, first used at {ids[example.id]}"))
        elif key in conversations:
            problems.append(Problem.about(example, "messages", f"duplicate of example {conversations[key]}"))
        else:
            ids[example.id] = example.where
            conversations[key] = example.id
            kept.append(example)
    return kept, problems
