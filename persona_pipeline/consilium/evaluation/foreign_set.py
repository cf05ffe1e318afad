"""The foreign evaluation set: real third-party texts (eval/foreign/materials, provenance in
eval/foreign/PROVENANCE.md) and questions about them written by someone who saw only the texts.

`dev` is for choices and fitting; `test` is only ever reported. Each question file is a grounded set
(grounded_set.py), near misses included (answer: null).
"""
from __future__ import annotations

from pathlib import Path

from ...settings import PROJECT_DIR
from .grounded_set import GroundedQuestion, load_grounded_set

FOREIGN_DIR = PROJECT_DIR / "eval" / "foreign"
MATERIALS_DIR = FOREIGN_DIR / "materials"
SPLITS = ("dev", "test")


def split_path(split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; known: {', '.join(SPLITS)}")
    return FOREIGN_DIR / f"{split}.yaml"


def load_split(split: str) -> list[GroundedQuestion]:
    return load_grounded_set(split_path(split))
