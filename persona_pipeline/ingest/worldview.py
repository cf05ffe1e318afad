"""Worldview examples as knowledge: each example becomes a retrievable question-and-answer text."""
from __future__ import annotations

from pathlib import PurePosixPath

from ..worldview_schema import parse_examples, structure_problems
from .decoding import decode_text
from .document import Block, Document, MaterialError

# how each turn is labelled in the text; the consilium quotes only what follows "Answer:"
TURN_LABELS = {"system": "Context", "user": "Question", "assistant": "Answer"}


def parse_worldview(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    examples, problems = parse_examples(text, path)
    warnings = [str(p) for p in problems]
    blocks = []
    for example in examples:
        issues = structure_problems(example)
        if issues:
            warnings += [str(p) for p in issues]
            continue
        body = "\n".join(f"{TURN_LABELS[m['role']]}: {m['content']}" for m in example.messages if m["role"] != "system")
        blocks.append(Block(text=body, group=example.id, heading=example.id, line=example.line))
    if not blocks:
        raise MaterialError("no valid worldview examples" + (f" ({'; '.join(warnings[:3])})" if warnings else ""))
    return Document(path=path, title=f"Worldview examples: {PurePosixPath(path).stem.replace('_', ' ')}", blocks=blocks, warnings=warnings)
