"""Training hyper-parameters: their names and types, the package's defaults (defaults.yaml), and the
project's own choices over them in one YAML file beside RAG_config.yaml (training.yaml), as an axolotl
user keeps one config per project. Nobody edits a file inside the installed package."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..settings import PROJECT_DIR

CONFIG_ENV = "PERSONA_TRAINING_CONFIG"  # names the project's training file when it is not PROJECT_FILE
PROJECT_FILE = PROJECT_DIR / "training.yaml"
SHIPPED = Path(__file__).with_name("defaults.yaml")


class TrainingSettingsError(Exception):
    pass


class TrainingFields(BaseModel):
    """The training settings' names and types; defaults.yaml holds their values."""

    model_config = ConfigDict(extra="forbid")   # a misspelt key in a defaults file is an error, not ignored

    base_model: str
    base_model_languages: list[str]
    system_prompt: str
    max_seq_length: int
    retrieval_augmented: bool
    eval_fraction: float
    seed: int
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: list[str]
    max_steps: int
    learning_rate: float
    batch_size: int
    gradient_accumulation_steps: int
    warmup_ratio: float
    eval_steps: int
    early_stopping_patience: int
    logging_steps: int
    sample_generations: int
    sample_max_new_tokens: int
    processes: int

    def fingerprint(self) -> str:
        """Identifies a training setup, so a checkpoint is only resumed by the same setup."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]


def project_file() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or PROJECT_FILE)


def _defaults() -> TrainingFields:
    values = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    project = project_file()
    override = project.exists() or bool(os.environ.get(CONFIG_ENV))  # a named file that is missing is an error
    if override:
        try:
            chosen = yaml.safe_load(project.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TrainingSettingsError(f"{project}: {' '.join(str(exc).split())}") from exc
        if not isinstance(chosen, dict):
            raise TrainingSettingsError(f"{project}: expected `setting: value` lines, found a {type(chosen).__name__}")
        values.update(chosen)
    try:
        return TrainingFields.model_validate(values)
    except ValidationError as exc:
        source = f"{project} over {SHIPPED}" if override else str(SHIPPED)
        raise TrainingSettingsError("; ".join(f"{source}: {'.'.join(map(str, e['loc']))}: "
                                              f"{'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}"
                                              for e in exc.errors())) from exc


DEFAULTS = _defaults()
# each field's default is its defaults.yaml value, not filled in at validation: Dagster reads a resource's
# defaults from its fields, so a Launchpad edit of one setting keeps the others
TrainingSettings = create_model(
    "TrainingSettings", __base__=TrainingFields, __module__=__name__,
    __doc__="Training hyper-parameters: the package's defaults.yaml with the project's training.yaml over it.",
    **{name: (field.annotation, getattr(DEFAULTS, name)) for name, field in TrainingFields.model_fields.items()})
