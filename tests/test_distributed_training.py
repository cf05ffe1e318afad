"""Training in two processes (torchrun, gloo on the CPU) through the LoRA asset, its Dagster Pipes launch and
a real MLflow store: the same losses as one process with the same global batch, one MLflow run and one
registered version, and a run killed after its first checkpoint resumes from it with two processes."""
import shutil

import dagster as dg
import pytest
from mlflow import MlflowClient

from conftest import FAULT_TALLY, SAMPLES
from persona_pipeline.defs.runs import run_training
from persona_pipeline.settings import Paths
from persona_pipeline.sft.adapter_data import build_sft_dataset
from persona_pipeline.training.adapters import ADAPTERS
from persona_pipeline.training.base_model import prepare_base_model
from persona_pipeline.training.pipeline import train_adapter
from persona_pipeline.training.settings import TrainingSettings

GLOBAL_BATCH = 4
# float sums in another order (two processes' gradients averaged by gloo): agreement far below a loss's change per step
LOSS_TOLERANCE = 1e-4


@pytest.fixture
def setup(tmp_path, tiny_base):
    shutil.copytree(SAMPLES / "worldview" / "core", tmp_path / "materials" / "worldview" / "core")
    settings = dict(base_model=tiny_base.path, max_steps=3, eval_steps=1, logging_steps=1, learning_rate=0.01,
                    lora_dropout=0.0, sample_generations=1, sample_max_new_tokens=4)
    return tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", settings


def _train(root, uri, settings, processes: int, instance=None):
    run = run_training(ADAPTERS["core"], root / "materials", root / "data", tracking_uri=uri,
                       instance=instance or dg.DagsterInstance.ephemeral(),
                       settings={**settings, "processes": processes, "batch_size": GLOBAL_BATCH // processes})
    assert run.success, _failure(run)
    return run


def _failure(run) -> str:
    return next(e.event_specific_data.error.message for e in run.dagster.all_events if e.event_type_value == "STEP_FAILURE")




def _train_losses(client, run_id) -> list[float]:
    return [m.value for m in sorted(client.get_metric_history(run_id, "train_loss"), key=lambda m: m.step)]


def test_two_processes_train_like_one_with_the_same_global_batch(setup):
    root, uri, settings = setup
    client = MlflowClient(uri)
    # one process in this one (the same training code a run's process calls), two through the asset and torchrun
    paths, single = Paths.resolve(root / "materials", root / "data"), TrainingSettings(**settings, batch_size=GLOBAL_BATCH)
    build_sft_dataset(ADAPTERS["core"], paths, single, prepare_base_model(single.base_model))
    one = train_adapter(ADAPTERS["core"], paths, single, uri=uri, report=lambda message: None)
    instance = dg.DagsterInstance.ephemeral()
    two = _train(root, uri, settings, 2, instance)
    assert len(client.search_runs([client.get_experiment_by_name("persona-adapters").experiment_id])) == 2
    assert sorted(str(v.version) for v in client.search_model_versions("name='persona-core-self'")) == ["1", "2"]
    assert any(f"MLflow run {two.trained.mlflow_run_id} (2 training processes)" in e.user_message
               for e in instance.all_logs(two.run_id))
    assert two.trained.heldout_loss == pytest.approx(one.heldout_loss, abs=LOSS_TOLERANCE)
    first, second = _train_losses(client, one.run_id), _train_losses(client, two.trained.mlflow_run_id)
    print(f"\n1 vs 2 processes: held-out loss {one.heldout_loss:.6f} vs {two.trained.heldout_loss:.6f}; per-step train loss "
          f"{[round(x, 6) for x in first]} vs {[round(x, 6) for x in second]}")
    assert len(first) == 3 and second == pytest.approx(first, abs=LOSS_TOLERANCE)
    assert first[0] != pytest.approx(first[-1], abs=100 * LOSS_TOLERANCE)  # the steps did move the adapter


def test_a_two_process_run_killed_after_a_checkpoint_resumes_from_it(setup, monkeypatch):
    root, uri, settings = setup
    client = MlflowClient(uri)
    with monkeypatch.context() as patch:
        patch.setenv("PERSONA_FAULT", "train:checkpoint-saved")
        killed = run_training(ADAPTERS["core"], root / "materials", root / "data", tracking_uri=uri,
                              instance=dg.DagsterInstance.ephemeral(), settings={**settings, "processes": 2, "batch_size": 2})
    assert not killed.success and "the training process was killed" in _failure(killed)
    [dead] = client.search_runs([client.get_experiment_by_name("persona-adapters").experiment_id])
    assert dead.info.status == "KILLED"
    data = Paths.resolve(root / "materials", root / "data").data_dir
    assert [p.name for p in (data / "checkpoints" / "core").glob("*/checkpoint-*")] == ["checkpoint-1"]

    resumed = _train(root, uri, settings, 2)
    run = client.get_run(resumed.trained.mlflow_run_id)
    assert run.data.tags["resumed_from_checkpoint"] == "checkpoint-1" and run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [2, 3]
    assert [v.run_id for v in client.search_model_versions("name='persona-core-self'")] == [run.info.run_id]
    FAULT_TALLY["kills survived"] += 1
    FAULT_TALLY["MLflow runs of killed processes marked KILLED, not left RUNNING"] += 1
