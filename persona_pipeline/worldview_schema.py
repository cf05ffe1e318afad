"""The worldview example schema: reading examples (YAML or JSONL) into one shape and checking each one's
structure, with every problem located. In the bottom layer because both the knowledge branch (worldview
examples are indexed as knowledge) and the adapter branch (they are the SFT data) read them."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXTENSIONS = {".yaml", ".yml", ".jsonl"}
ROLES = ("system", "user", "assistant")
# anchors and aliases may share a system prompt between examples; a file whose aliases unfold to many
# times its own size (the "billion laughs" shape) is refused before anything walks the unfolded values
MAX_ALIAS_EXPANSION = 10


@dataclass
class Example:
    id: str
    messages: list[dict]
    tags: list[str] = field(default_factory=list)
    file: str = ""
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else f"{self.file} (id {self.id})"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    example_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        ident = f" [{self.example_id}]" if self.example_id else ""
        return f"{place}{ident} {self.field}: {self.message}"

    @classmethod
    def about(cls, example: Example, field: str, message: str) -> Problem:
        return cls(example.file, example.line, example.id, field, message)


def example_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


def read_examples(path: Path, display: str) -> tuple[list[Example], list[Problem]]:
    """Examples of one file, and the problems that kept others out (bad JSON/YAML, wrong shape)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(display, None, None, "file", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    return parse_examples(text, display)


def parse_examples(text: str, display: str) -> tuple[list[Example], list[Problem]]:
    if display.lower().endswith(".jsonl"):
        return _read_jsonl(text, display)
    return _read_yaml(text, display)


def _read_jsonl(text: str, display: str) -> tuple[list[Example], list[Problem]]:
    examples, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(Problem(display, number, None, "json", f"invalid JSON at column {exc.colno}: {exc.msg}"))
            continue
        except RecursionError:
            problems.append(Problem(display, number, None, "json", "nested too deeply to read"))
            continue
        example, problem = _from_mapping(row, display, number, default_id=f"{Path(display).stem}:{number}")
        examples += [example] if example else []
        problems += [problem] if problem else []
    return examples, problems


def _read_yaml(text: str, display: str) -> tuple[list[Example], list[Problem]]:
    try:
        node = yaml.compose(text)
        if node is not None and _unfolded_size(node) > MAX_ALIAS_EXPANSION * len(text):
            return [], [Problem(display, None, None, "yaml", f"anchors and aliases unfold to more than {MAX_ALIAS_EXPANSION}x "
                                "the file's size (a \"billion laughs\" shape); not read")]
        rows = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [Problem(display, mark.line + 1 if mark else None, None, "yaml", str(getattr(exc, "problem", exc)))]
    except RecursionError:
        return [], [Problem(display, None, None, "yaml", "nested too deeply to read")]
    if rows is None:
        return [], []
    if not isinstance(rows, list):
        return [], [Problem(display, 1, None, "file", "expected a list of examples")]
    lines = [item.start_mark.line + 1 for item in node.value] if node is not None else [None] * len(rows)
    examples, problems = [], []
    for row, line in zip(rows, lines):
        example, problem = _from_mapping(row, display, line, default_id=f"{Path(display).stem}:{line}")
        examples += [example] if example else []
        problems += [problem] if problem else []
    return examples, problems


def _unfolded_size(root: yaml.Node) -> float:
    """Characters and values the document would hold with every alias unfolded, counted without unfolding:
    an alias is the very node its anchor names, so each node's size is computed once. A node that holds
    itself unfolds without end."""
    sizes: dict[int, float] = {}
    open_nodes: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = len(node.value) + 1
            continue
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
        elif key in open_nodes:
            return math.inf
        else:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _from_mapping(row, display: str, line: int | None, default_id: str) -> tuple[Example | None, Problem | None]:
    if not isinstance(row, dict):
        return None, Problem(display, line, None, "example", "expected a mapping with messages or prompt/response")
    ident = str(row.get("id") or default_id)
    tags = row.get("tags") or []
    if not isinstance(tags, list):
        return None, Problem(display, line, ident, "tags", "must be a list")
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return None, Problem(display, line, ident, "messages", "must be a list of {role, content}")
        if "prompt" in row or "response" in row:
            return None, Problem(display, line, ident, "messages", "give either messages or prompt/response, not both")
    elif "prompt" in row or "response" in row:
        messages = [{"role": "user", "content": row.get("prompt")}, {"role": "assistant", "content": row.get("response")}]
    else:
        return None, Problem(display, line, ident, "messages", "missing: give messages, or prompt and response")
    if row.get("system") is not None:
        messages = [{"role": "system", "content": row["system"]}] + list(messages)
    return Example(ident, [dict(m) for m in messages], [str(t) for t in tags], display, line), None


def structure_problems(example: Example) -> list[Problem]:
    problems = []
    messages = example.messages
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            problems.append(Problem.about(example, f"messages[{i}].role", f"'{role}' is not one of {', '.join(ROLES)}"))
        if not isinstance(content, str) or not content.strip():
            problems.append(Problem.about(example, f"messages[{i}].content", "empty or missing"))
        extra = set(message) - {"role", "content"}
        if extra:
            problems.append(Problem.about(example, f"messages[{i}]", f"unknown key(s) {sorted(extra)}"))
    if problems:
        return problems
    roles = [m["role"] for m in messages]
    turns = roles[1:] if roles and roles[0] == "system" else roles
    if "system" in turns:
        problems.append(Problem.about(example, f"messages[{roles.index('system', 1)}].role", "a system message may only come first"))
    elif not turns:
        problems.append(Problem.about(example, "messages", "no user or assistant turn"))
    elif "assistant" not in turns:
        problems.append(Problem.about(example, "messages", "missing assistant turn"))
    else:
        offset = len(roles) - len(turns)
        for i, role in enumerate(turns):
            expected = "user" if i % 2 == 0 else "assistant"
            if role != expected:
                problems.append(Problem.about(example, f"messages[{i + offset}].role",
                                         f"expected {expected} (turns alternate user/assistant, starting with user), got {role}"))
                break
        else:
            if turns[-1] != "assistant":
                problems.append(Problem.about(example, f"messages[{len(roles) - 1}].role", "the last turn must be the assistant's"))
    return problems
