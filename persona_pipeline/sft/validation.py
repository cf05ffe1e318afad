"""Validation as strict as torchtune's: every problem, with file, line or id, and field."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from .examples import ROLES, Example, Problem, example_files, read_examples


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
                issues.append(_problem(example, "messages", f"too long: {n} tokens > max_seq_length {max_tokens}"))
        problems += issues
        if not issues:
            valid.append(example)
    kept, duplicates = _without_duplicates(valid)
    if not examples and not problems:
        problems.append(Problem(folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder),
                                None, None, "folder", "no examples found (*.yaml, *.yml or *.jsonl)"))
    return kept, sorted(problems + duplicates, key=lambda p: (p.file, p.line or 0))


def structure_problems(example: Example) -> list[Problem]:
    problems = []
    messages = example.messages
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            problems.append(_problem(example, f"messages[{i}].role", f"'{role}' is not one of {', '.join(ROLES)}"))
        if not isinstance(content, str) or not content.strip():
            problems.append(_problem(example, f"messages[{i}].content", "empty or missing"))
        extra = set(message) - {"role", "content"}
        if extra:
            problems.append(_problem(example, f"messages[{i}]", f"unknown key(s) {sorted(extra)}"))
    if problems:
        return problems
    roles = [m["role"] for m in messages]
    turns = roles[1:] if roles and roles[0] == "system" else roles
    if "system" in turns:
        problems.append(_problem(example, f"messages[{roles.index('system', 1)}].role", "a system message may only come first"))
    elif not turns:
        problems.append(_problem(example, "messages", "no user or assistant turn"))
    elif "assistant" not in turns:
        problems.append(_problem(example, "messages", "missing assistant turn"))
    else:
        offset = len(roles) - len(turns)
        for i, role in enumerate(turns):
            expected = "user" if i % 2 == 0 else "assistant"
            if role != expected:
                problems.append(_problem(example, f"messages[{i + offset}].role",
                                         f"expected {expected} (turns alternate user/assistant, starting with user), got {role}"))
                break
        else:
            if turns[-1] != "assistant":
                problems.append(_problem(example, f"messages[{len(roles) - 1}].role", "the last turn must be the assistant's"))
    return problems


def conversation_key(messages: list[dict]) -> str:
    normal = [(m["role"], " ".join(m["content"].split()).lower()) for m in messages]
    return hashlib.sha256(json.dumps(normal, ensure_ascii=False).encode()).hexdigest()


def _without_duplicates(examples: list[Example]) -> tuple[list[Example], list[Problem]]:
    kept, problems, ids, conversations = [], [], {}, {}
    for example in examples:
        key = conversation_key(example.messages)
        if example.id in ids:
            problems.append(_problem(example, "id", f"duplicate id, first used at {ids[example.id]}"))
        elif key in conversations:
            problems.append(_problem(example, "messages", f"duplicate of example {conversations[key]}"))
        else:
            ids[example.id] = example.where
            conversations[key] = example.id
            kept.append(example)
    return kept, problems


def _problem(example: Example, field: str, message: str) -> Problem:
    return Problem(example.file, example.line, example.id, field, message)
