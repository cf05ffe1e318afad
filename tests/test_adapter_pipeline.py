"""The adapter assets on the real packaged SmolLM2, tracked in a real MLflow store read back through
MlflowClient: params, per-step metrics, dataset inputs, adapter files, versions and the champion alias."""
import os

import dagster as dg
import mlflow
import pytest
import torch
from mlflow import MlflowClient
from peft import PeftModel

from conftest import SAMPLES, train_core
from persona_pipeline.training.base_model import load_model, load_tokenizer


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # the pipeline sets it process-wide too; each test starts from its own store
    return uri


def test_training_is_tracked_registered_and_the_alias_moves_only_when_better(tmp_path, core_runs):
    first, uri = core_runs.first, core_runs.uri
    mlflow.set_tracking_uri(uri)
    assert first.success
    assert first.examples_valid
    dataset, trained = first.dataset, first.trained
    assert dataset.train + dataset.eval == 60 and dataset.tokens_max <= 512
    assert first.verdict.became_champion is True

    client = MlflowClient(uri)
    run = client.get_run(trained.mlflow_run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["lora_r"] == "16" and params["max_steps"] == "2" and "SmolLM2" in params["base_model_id"]
    assert params["dataset_digest"] == dataset.digest
    assert run.data.tags["dagster.asset"] == "lora_core_self" and run.data.tags["dagster.run_id"] == first.run_id
    # trained in its own process, launched through Dagster Pipes, whose stage messages reached the run log
    assert not run.data.tags["persona.owner"].endswith(f":{os.getpid()}")
    logged = [e.user_message for e in core_runs.instance.all_logs(first.run_id)]
    assert any("[pipes] external process successfully opened" in m for m in logged)
    assert any(f"MLflow run {run.info.run_id} (1 training process)" in m for m in logged)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]
    assert client.get_metric_history(run.info.run_id, "eval_loss") and client.get_metric_history(run.info.run_id, "eval_perplexity")
    assert client.get_metric_history(run.info.run_id, "learning_rate")
    assert run.data.metrics["heldout_loss"] < run.data.metrics["base_heldout_loss"]
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert inputs["sft_core_train"].dataset.digest == dataset.digest
    assert {t.value for d in inputs.values() for t in d.tags if t.key == "mlflow.data.context"} == {"train", "eval"}
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "adapter")}
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= artifacts
    assert "loss_curve.png" in {a.path for a in client.list_artifacts(run.info.run_id)}
    # what the Dagster asset page shows: the loss curve inline, and links into the MLflow UI
    trained_page = first.metadata("lora_core_self")
    assert trained_page["loss_curve"].startswith("![train and eval loss by step](data:image/png;base64,")
    assert trained.mlflow_run == f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    assert trained_page["mlflow_model_version"].endswith("/#/models/persona-core-self/versions/1")
    assert first.metadata("sft_dataset_core")["token_lengths"].startswith("![conversation token lengths](data:image/png;base64,")
    table = mlflow.load_table("sample_generations.json", run_ids=[run.info.run_id])
    assert list(table.columns)[:4] == ["prompt", "reference", "base", "adapter"] and len(table) == 1

    champion = client.get_model_version_by_alias("persona-core-self", "champion")
    assert str(champion.version) == "1" and champion.run_id == run.info.run_id

    # the registered adapter loads with peft and changes what the model computes
    local = mlflow.artifacts.download_artifacts(artifact_uri=champion.source, dst_path=str(tmp_path / "dl"))
    from persona_pipeline.training.base_model import prepare_base_model
    base = prepare_base_model()
    tokenizer = load_tokenizer(base)
    model = PeftModel.from_pretrained(load_model(base), local)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "How do you deal with mistakes?"}],
                                        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        tuned = model(**ids).logits
        with model.disable_adapter():
            plain = model(**ids).logits
    assert (tuned - plain).abs().max() > 1e-3

    # a zero learning rate leaves the adapter at its identity initialisation: not better, so no promotion
    second = core_runs.second
    assert second.success
    assert second.trained.version == "2"
    assert second.verdict.became_champion is False
    assert str(client.get_model_version_by_alias("persona-core-self", "champion").version) == "1"

    # a run that fails mid-training is FAILED in MLflow and registers nothing
    third = train_core(SAMPLES, tmp_path / "data", dg.DagsterInstance.ephemeral(), uri, target_modules=["no_such_projection"])
    assert not third.success
    failure = next(e for e in third.dagster.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "CoreSelf training failed: NoMatchingPeftModuleError: Target modules {'no_such_projection'} not found" in message and "\n" not in message.strip()
    runs = client.search_runs([client.get_experiment_by_name("persona-adapters").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FAILED", "FINISHED", "FINISHED"]
    assert len(client.search_model_versions("name='persona-core-self'")) == 2


def test_one_bad_example_among_good_ones_fails_the_blocking_check(tmp_path, tracking):
    materials = tmp_path / "materials"
    (materials / "worldview" / "core").mkdir(parents=True)
    good = (SAMPLES / "worldview" / "core" / "principles_en.yaml").read_text()
    (materials / "worldview" / "core" / "good.yaml").write_text(good)
    (materials / "worldview" / "core" / "bad.jsonl").write_text('{"id": "x", "messages": [{"role": "user", "content": "q"}]}\n')
    result = train_core(materials, tmp_path / "data", dg.DagsterInstance.ephemeral(), tracking)
    assert not result.success
    assert result.examples_valid is False
    assert result.dataset.train + result.dataset.eval == 20
    assert not result.trained


def test_no_valid_examples_fails_with_every_problem(tmp_path, tracking):
    materials = tmp_path / "materials"
    (materials / "worldview" / "core").mkdir(parents=True)
    (materials / "worldview" / "core" / "bad.jsonl").write_text('{"id": "x", "messages": [{"role": "user", "content": "q"}]}\n')
    result = train_core(materials, tmp_path / "data", dg.DagsterInstance.ephemeral(), tracking)
    assert not result.success
    failure = next(e for e in result.dagster.all_events if e.event_type_value == "STEP_FAILURE")
    assert "worldview/core/bad.jsonl:1 [x] messages: missing assistant turn" in failure.event_specific_data.error.message
    assert not result.trained
    assert mlflow.search_runs(experiment_names=["persona-adapters"], output_format="list") == []
