"""Worldview example validation: every problem, with file, line or id, and field."""
import textwrap
from pathlib import Path

import pytest

from persona_pipeline.sft.validation import load_and_validate

SAMPLES = Path(__file__).resolve().parents[1] / "raw_materials"


def problems_of(tmp_path, name: str, text: str, **kwargs):
    folder = tmp_path / "worldview" / "core"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    examples, problems = load_and_validate(folder, tmp_path, **kwargs)
    return examples, [str(p) for p in problems]


def test_shipped_examples_are_valid_and_large_enough():
    for adapter in ("core", "sport"):
        examples, problems = load_and_validate(SAMPLES / "worldview" / adapter, SAMPLES)
        assert problems == [] and len(examples) >= 60
        langs = {"ru" if any("а" <= ch <= "я" for ch in e.messages[-1]["content"]) else "en" for e in examples}
        assert langs == {"ru", "en"}
    heldout = Path(__file__).resolve().parents[1] / "eval" / "heldout"
    examples, problems = load_and_validate(heldout, heldout.parent)
    assert problems == [] and len(examples) >= 30


def test_jsonl_problems_are_all_reported_with_line_id_and_field(tmp_path):
    examples, problems = problems_of(tmp_path, "bad.jsonl", """
        {"id": "a", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
        {"id": "b", "messages": [{"role": "user", "content": "hi"}]
        {"id": "c", "messages": [{"role": "user", "content": "q"}]}
        {"id": "d", "messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "q"}]}
        {"id": "e", "messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "x"}]}
        {"id": "a", "messages": [{"role": "user", "content": "other"}, {"role": "assistant", "content": "x"}]}
        {"id": "f", "messages": [{"role": "user", "content": "HI "}, {"role": "assistant", "content": "hello"}]}
        {"id": "g", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "system", "content": "s"}]}
        {"id": "h", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]}
        {"id": "i", "messages": [{"role": "coach", "content": "q"}, {"role": "assistant", "content": "a"}]}
    """)
    assert [e.id for e in examples] == ["a"]
    assert problems == [
        "worldview/core/bad.jsonl:2 json: invalid JSON at column 60: Expecting ',' delimiter",
        "worldview/core/bad.jsonl:3 [c] messages: missing assistant turn",
        "worldview/core/bad.jsonl:4 [d] messages[0].role: expected user (turns alternate user/assistant, starting with user), got assistant",
        "worldview/core/bad.jsonl:5 [e] messages[0].content: empty or missing",
        "worldview/core/bad.jsonl:6 [a] id: duplicate id, first used at worldview/core/bad.jsonl:1",
        "worldview/core/bad.jsonl:7 [f] messages: duplicate of example a",
        "worldview/core/bad.jsonl:8 [g] messages[2].role: a system message may only come first",
        "worldview/core/bad.jsonl:9 [h] messages[2].role: the last turn must be the assistant's",
        "worldview/core/bad.jsonl:10 [i] messages[0].role: 'coach' is not one of system, user, assistant",
    ]


def test_yaml_problems_name_the_line_of_the_example(tmp_path):
    _, problems = problems_of(tmp_path, "hand.yaml", """
        - id: ok-1
          prompt: A question
          response: An answer
        - id: no-answer
          prompt: Only a question
        - id: both
          prompt: q
          response: a
          messages: [{role: user, content: q}]
    """)
    assert problems == [
        "worldview/core/hand.yaml:4 [no-answer] messages[1].content: empty or missing",
        "worldview/core/hand.yaml:6 [both] messages: give either messages or prompt/response, not both",
    ]


def test_broken_yaml_names_its_line(tmp_path):
    _, problems = problems_of(tmp_path, "broken.yaml", """
        - id: x
          prompt: "unclosed
          response: y
    """)
    assert len(problems) == 1 and problems[0].startswith("worldview/core/broken.yaml:") and " yaml: " in problems[0]


def test_too_long_for_the_context(tmp_path):
    examples, problems = problems_of(tmp_path, "long.yaml", """
        - id: short
          prompt: q
          response: a
        - id: long
          prompt: q
          response: "%s"
    """ % ("word " * 300), count_tokens=lambda messages: sum(len(m["content"].split()) for m in messages), max_tokens=100)
    assert [e.id for e in examples] == ["short"]
    assert problems == ["worldview/core/long.yaml:4 [long] messages: too long: 301 tokens > max_seq_length 100"]


@pytest.mark.parametrize("content", ["", "# nothing\n"])
def test_an_empty_folder_is_a_problem(tmp_path, content):
    examples, problems = problems_of(tmp_path, "empty.yaml", content)
    assert examples == [] and problems == ["worldview/core folder: no examples found (*.yaml, *.yml or *.jsonl)"]
