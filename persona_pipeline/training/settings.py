"""Training hyper-parameters, defaults from defaults.yaml."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml
from pydantic import BaseModel

DEFAULTS_ENV = "PERSONA_TRAINING_DEFAULTS"  # a YAML file whose keys replace the shipped defaults


def _defaults() -> dict:
    values = yaml.safe_load(Path(__file__).with_name("defaults.yaml").read_text(encoding="utf-8"))
    override = os.environ.get(DEFAULTS_ENV)
    if override:
        values.update(yaml.safe_load(Path(override).read_text(encoding="utf-8")) or {})
    return values


DEFAULTS = _defaults()


class TrainingSettings(BaseModel):
    base_model: str = DEFAULTS["base_model"]
    base_model_languages: list[str] = DEFAULTS["base_model_languages"]
    system_prompt: str = DEFAULTS["system_prompt"]
    max_seq_length: int = DEFAULTS["max_seq_length"]
    retrieval_augmented: bool = DEFAULTS["retrieval_augmented"]
    eval_fraction: float = DEFAULTS["eval_fraction"]
    seed: int = DEFAULTS["seed"]
    lora_r: int = DEFAULTS["lora_r"]
    lora_alpha: int = DEFAULTS["lora_alpha"]
    lora_dropout: float = DEFAULTS["lora_dropout"]
    target_modules: list[str] = DEFAULTS["target_modules"]
    max_steps: int = DEFAULTS["max_steps"]
    learning_rate: float = DEFAULTS["learning_rate"]
    batch_size: int = DEFAULTS["batch_size"]
    gradient_accumulation_steps: int = DEFAULTS["gradient_accumulation_steps"]
    warmup_ratio: float = DEFAULTS["warmup_ratio"]
    eval_steps: int = DEFAULTS["eval_steps"]
    early_stopping_patience: int = DEFAULTS["early_stopping_patience"]
    logging_steps: int = DEFAULTS["logging_steps"]
    sample_generations: int = DEFAULTS["sample_generations"]
    sample_max_new_tokens: int = DEFAULTS["sample_max_new_tokens"]

    def fingerprint(self) -> str:
        """Identifies a training setup, so a checkpoint is only resumed by the same setup."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]
