"""One training-settings resource for every adapter asset: a run-config change reaches the dataset, the
training run and the evaluation alike, so nothing trains with one setting and evaluates with another."""
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from mlflow import MlflowClient

from conftest import PROJECT, SAMPLES, train_core
from persona_pipeline.sft.dataset import load_latest
from persona_pipeline.training.settings import CONFIG_ENV, TrainingSettings

# above the sample examples' longest conversation, so every example stays valid, and not the default
MAX_SEQ_LENGTH = 640
SYSTEM_PROMPT = "You are a test coach."


def test_a_run_config_change_reaches_the_dataset_the_training_run_and_the_evaluation(tmp_path, tiny_base):
    assert TrainingSettings().max_seq_length != MAX_SEQ_LENGTH
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # the tiny base in run config: an evaluation that fell back to the default base could not load its adapter
    result = train_core(SAMPLES, tmp_path / "data", dg.DagsterInstance.ephemeral(), uri,
                        base_model=tiny_base.path, max_seq_length=MAX_SEQ_LENGTH, system_prompt=SYSTEM_PROMPT)
    assert result.success

    assert result.dataset.max_seq_length == MAX_SEQ_LENGTH
    dataset = load_latest(tmp_path / "data" / "sft" / "core")
    assert all(m[0] == {"role": "system", "content": SYSTEM_PROMPT} for m in dataset.data["train"]["messages"])

    run = MlflowClient(uri).get_run(result.trained.mlflow_run_id)
    assert run.data.params["max_seq_length"] == str(MAX_SEQ_LENGTH)
    assert run.data.params["base_model_id"] == Path(tiny_base.path).name

    assert result.verdict.max_seq_length == MAX_SEQ_LENGTH


def test_a_misspelt_setting_is_refused_by_name(tmp_path):
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_seq_lenght"):
        train_core(SAMPLES, tmp_path / "data", dg.DagsterInstance.ephemeral(), f"sqlite:///{tmp_path / 'mlflow.db'}",
                   max_seq_lenght=MAX_SEQ_LENGTH)


def test_a_misspelt_key_in_a_defaults_file_is_refused_by_name(tmp_path):
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text("max_stpes: 3\nlora_r: sixteen\n")
    env = {**os.environ, CONFIG_ENV: str(defaults), "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", "import persona_pipeline.training.settings"], env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("persona_pipeline.training.settings.TrainingSettingsError: ")
    assert f"{defaults} over " in error and "max_stpes: unknown key" in error and "lora_r: " in error


def test_the_projects_training_file_beside_rag_config_chooses_the_base_model_and_settings(tmp_path):
    (tmp_path / "training.yaml").write_text("base_model: /models/qwen2.5-0.5b-instruct\nbase_model_languages: [en, ru]\n"
                                            "max_steps: 3\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    env.update(PERSONA_PROJECT_DIR=str(tmp_path), PYTHONPATH=str(PROJECT))
    script = ("from persona_pipeline.training.settings import TrainingSettings as T; s = T(); "
              "print(s.base_model, s.base_model_languages, s.max_steps, s.lora_r)")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["/models/qwen2.5-0.5b-instruct", "['en',", "'ru']", "3", "16"]
    (tmp_path / "training.yaml").write_text("- max_steps: 3\n", encoding="utf-8")
    refused = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and f"{tmp_path / 'training.yaml'}: expected `setting: value` lines" in refused.stderr
