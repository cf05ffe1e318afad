"""Corrections become worldview examples only through a person.

A waiting correction is written as a candidate example (the question, and his answer in place of the
served one) and checked by the same validation as the hand-written examples, in the company of the
adapter's examples, so a duplicate or an example too long for the context is caught. Accepting it puts
the file into the adapter's worldview folder, where the next SFT dataset reads it.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..atomic import staged_dir, write_text
from ..settings import Paths
from ..sft.adapter_data import validate_examples
from ..training.adapters import ADAPTERS, AdapterSpec
from ..training.settings import TrainingSettings
from .store import ACCEPTED, REJECTED, WAITING, Correction, FeedbackStore

CANDIDATES_DIR = "feedback/candidates"
# accepted examples live in this subfolder of the adapter's worldview folder, one file per correction
ACCEPTED_FOLDER = "feedback"


@dataclass
class Candidate:
    correction: Correction
    adapter: str                 # "core" or "sport"
    problems: list[str]          # empty when it passes validation

    @property
    def file_name(self) -> str:
        return f"feedback-{self.correction.id}.yaml"


def example_text(correction: Correction) -> str:
    return yaml.safe_dump([{"id": f"feedback-{correction.id}", "tags": ["feedback"], "prompt": correction.question,
                            "response": correction.correction}], allow_unicode=True, sort_keys=False)


def adapter_of(correction: Correction) -> str:
    """A sports question's correction teaches SportMind, any other CoreSelf: the route the answer took."""
    return "sport" if correction.sport else "core"


def review_candidates(store: FeedbackStore, paths: Paths, settings: TrainingSettings, tokenizer) -> list[Candidate]:
    """Every waiting correction, validated; the valid ones are written under data/feedback/candidates/<adapter>/
    for a person to read (the folder is replaced as a whole, so it never mixes two reviews)."""
    waiting = store.corrections(WAITING)
    # the hand-written examples' own problems, once per adapter, not once per correction
    known = {key: known_problems(ADAPTERS[key], paths, settings, tokenizer) for key in {adapter_of(c) for c in waiting}}
    candidates = [Candidate(c, adapter_of(c), problems_if_added(ADAPTERS[adapter_of(c)], paths, settings, tokenizer,
                                                               f"feedback-{c.id}.yaml", example_text(c), known[adapter_of(c)]))
                  for c in waiting]
    with staged_dir(paths.data_dir / CANDIDATES_DIR) as folder:
        for candidate in candidates:
            if not candidate.problems:
                target = folder / candidate.adapter / candidate.file_name
                target.parent.mkdir(exist_ok=True)
                target.write_text(example_text(candidate.correction), encoding="utf-8")
    return candidates


def known_problems(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, tokenizer) -> set[str]:
    return {str(p) for p in validate_examples(spec, paths, settings, tokenizer)[1]}


def problems_if_added(spec: AdapterSpec, paths: Paths, settings: TrainingSettings, tokenizer, name: str, text: str,
                      before: set[str]) -> list[str]:
    """The validation problems that adding `text` as `name` to the adapter's examples would bring, beyond
    `before`, the ones they have already (known_problems)."""
    with tempfile.TemporaryDirectory() as scratch:
        trial = Paths(Path(scratch), paths.data_dir, paths.config_path)
        folder = trial.materials_dir / spec.examples_folder
        if (paths.materials_dir / spec.examples_folder).is_dir():
            shutil.copytree(paths.materials_dir / spec.examples_folder, folder)
        (folder / ACCEPTED_FOLDER).mkdir(parents=True, exist_ok=True)
        (folder / ACCEPTED_FOLDER / name).write_text(text, encoding="utf-8")
        after = validate_examples(spec, trial, settings, tokenizer)[1]
    return [str(p) for p in after if str(p) not in before]


def accept(store: FeedbackStore, paths: Paths, settings: TrainingSettings, tokenizer, feedback_id: int) -> Path:
    """Write the correction into its adapter's worldview folder and mark it accepted; ValueError with the
    validation problems when it does not pass, LookupError when no waiting correction has that id."""
    correction = _waiting(store, feedback_id)
    spec = ADAPTERS[adapter_of(correction)]
    name, text = f"feedback-{correction.id}.yaml", example_text(correction)
    problems = problems_if_added(spec, paths, settings, tokenizer, name, text, known_problems(spec, paths, settings, tokenizer))
    if problems:
        raise ValueError(f"correction {feedback_id} does not pass validation: " + "; ".join(problems))
    target = paths.materials_dir / spec.examples_folder / ACCEPTED_FOLDER / name
    write_text(target, text)
    store.set_review(feedback_id, ACCEPTED)
    return target


def reject(store: FeedbackStore, feedback_id: int) -> None:
    _waiting(store, feedback_id)
    store.set_review(feedback_id, REJECTED)


def _waiting(store: FeedbackStore, feedback_id: int) -> Correction:
    found = [c for c in store.corrections(WAITING) if c.id == feedback_id]
    if not found:
        raise LookupError(f"no correction {feedback_id} waiting for review (`persona feedback list` shows them)")
    return found[0]
