"""Retraining on change through the real `dagster-daemon`, on the shipped instance settings and a tiny base
model: examples trained already train nothing; an edited worldview example retrains, evaluates and moves
the champion only when better; ten quick edits during a training queue one more run, not ten; an invalid
example stops the retrain with its message on the asset, and the champion stays. (The sensor's other
decisions, one tick at a time: tests/test_sensor.py.)"""
import os
import re
import shutil
import time

import dagster as dg
import pytest
import yaml
from mlflow import MlflowClient

from conftest import PROJECT, SAMPLES, TINY_RUN
from persona_pipeline.defs.retraining import ADAPTER_TAG
from persona_pipeline.sft.dataset import load_dataset_at
from persona_pipeline.training.adapters import CHAMPION
from ui_servers import BIN, spawn, tail

MODEL = "persona-core-self"
WAIT = 240  # seconds for one retrain (run start, dataset, a training process, evaluation) on 2 busy cores
QUICK_EDITS = 10
EDIT_GAP = 0.2  # seconds between the quick edits: all ten land while the first retrain still trains
UNCHANGED = "CoreSelf examples unchanged"  # the sensor's skip message, which the daemon logs


def wait_for(what: str, check, log, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no {what} after {timeout:.0f} s; the daemon's log:\n{tail(log, 60)}")


@pytest.fixture
def daemon(tmp_path, tiny_base):
    """The daemon on a project whose CoreSelf examples were trained once already (version 1, champion),
    in this process: the same training code as a run's, without a run's start-up."""
    from persona_pipeline.settings import Paths
    from persona_pipeline.sft.adapter_data import build_sft_dataset
    from persona_pipeline.training.adapters import ADAPTERS
    from persona_pipeline.training.pipeline import train_adapter
    from persona_pipeline.training.promotion import evaluate_and_promote
    from persona_pipeline.training.settings import TrainingSettings

    materials = tmp_path / "materials"
    shutil.copytree(SAMPLES / "worldview" / "core", materials / "worldview" / "core")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home)
    chosen = {**TINY_RUN, "base_model": tiny_base.path, "learning_rate": 0.01}
    training = tmp_path / "training.yaml"
    training.write_text(yaml.safe_dump(chosen))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    paths, settings = Paths.resolve(materials, tmp_path / "data"), TrainingSettings(**chosen)
    build_sft_dataset(ADAPTERS["core"], paths, settings, tiny_base)
    first = train_adapter(ADAPTERS["core"], paths, settings, uri=uri, report=lambda message: None)
    assert evaluate_and_promote(ADAPTERS["core"], paths, settings, first.version, uri=uri, report=lambda message: None).promoted
    env = {**os.environ, "DAGSTER_HOME": str(home), "PERSONA_MATERIALS_DIR": str(materials),
           "PERSONA_DATA_DIR": str(tmp_path / "data"), "MLFLOW_TRACKING_URI": uri, "PERSONA_TRAINING_CONFIG": str(training)}
    log = tmp_path / "daemon.log"
    with spawn([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT, env=env, log=log):
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield materials / "worldview" / "core", MlflowClient(uri), instance, log


def _versions(client) -> set[str]:
    return {str(v.version) for v in client.search_model_versions(f"name='{MODEL}'")}


def _core_runs(instance, *statuses):
    return instance.get_run_records(dg.RunsFilter(tags={ADAPTER_TAG: "core"}, statuses=list(statuses) or None))


def _all_finished(instance) -> list:
    """The retrain runs so far, once none of them is queued or running."""
    records = _core_runs(instance)
    return records if all(r.dagster_run.is_finished for r in records) else []


def _built_in(instance, run_id: str) -> bool:
    """Whether that run built the CoreSelf dataset: from then on, it trains on what the folder held then."""
    event = instance.get_latest_materialization_event(dg.AssetKey("sft_dataset_core"))
    return event is not None and event.run_id == run_id


def _verdicts(instance, records) -> list[dict]:
    """What each run's evaluation decided, oldest first: version, its held-out loss, the champion's, promoted."""
    verdicts = []
    for record in sorted(records, key=lambda r: r.create_timestamp):
        events = [e for e in instance.all_logs(record.dagster_run.run_id) if e.dagster_event
                  and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
                  and e.dagster_event.asset_key == dg.AssetKey("core_self_eval")]
        if not events:  # a run that found its dataset trained already evaluates nothing
            continue
        metadata = events[0].dagster_event.materialization.metadata
        verdicts.append({key: metadata[key].value for key in ("version", "heldout_loss", "champion_heldout_loss", "became_champion")})
    return verdicts


def test_worldview_changes_retrain_through_the_daemon(daemon):
    folder, client, instance, log = daemon
    english = folder / "principles_en.yaml"

    # the daemon's first tick finds these examples' dataset in the registry already: nothing is trained
    wait_for("the first tick", lambda: UNCHANGED in log.read_text(), log)
    assert not _core_runs(instance)

    # one answer edited: a new version whose MLflow run names the changed example
    english.write_text(english.read_text().replace("One main goal.", "One main goal, and only one."))
    [started] = wait_for("a retrain run started", lambda: _core_runs(instance, dg.DagsterRunStatus.STARTED), log)
    wait_for("its dataset built", lambda: _built_in(instance, started.dagster_run.run_id), log)
    # ten quick edits while it trains: they make one more training, not ten
    for i in range(QUICK_EDITS):
        english.write_text(re.sub(r"In the same order every time[^.]*\.", f"In the same order every time ({i}).", english.read_text()))
        time.sleep(EDIT_GAP)
    wait_for("version 3", lambda: "3" in _versions(client), log)
    # settled: a tick after every run finished found nothing new to train
    ticks = log.read_text().count(UNCHANGED)
    wait_for("a quiet tick", lambda: log.read_text().count(UNCHANGED) > ticks and _all_finished(instance), log)
    records = _all_finished(instance)
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    assert _versions(client) == {"1", "2", "3"}
    # a run requested while the edits were still arriving trained what the folder held when it started
    assert len(records) <= 3
    last = load_dataset_at(folder.parents[2] / "data" / "sft" / "core", client.get_model_version(MODEL, "3").tags["dataset_digest"])
    assert any(f"every time ({QUICK_EDITS - 1})." in m["content"] for row in last["train"] for m in row["messages"]) or \
        any(f"every time ({QUICK_EDITS - 1})." in m["content"] for row in last["eval"] for m in row["messages"])
    for version, example in (("2", "core-en-03"), ("3", "core-en-09")):
        run = client.get_run(client.get_model_version(MODEL, version).run_id)
        assert run.data.tags["examples_changed_since"] == f"v{int(version) - 1}" and run.data.tags["examples_changed"] == "1"
        assert f'"{example}"' in open(client.download_artifacts(run.info.run_id, "examples_changed.json")).read()
    # each evaluation moved the alias only for a lower held-out loss, and the alias is where the last move left it
    verdicts = _verdicts(instance, records)
    assert [v["version"] for v in verdicts] == ["2", "3"]
    assert all(v["became_champion"] == (v["heldout_loss"] < v["champion_heldout_loss"]) for v in verdicts)
    expected = next((v["version"] for v in reversed(verdicts) if v["became_champion"]), "1")
    assert str(client.get_model_version_by_alias(MODEL, CHAMPION).version) == expected

    # an invalid example: the retrain stops at the dataset's blocking check, saying why; no version, same champion
    (folder / "broken.jsonl").write_text('{"id": "broken-1", "messages": [{"role": "user", "content": "q"}]}\n')
    failed_runs = lambda: [r for r in _all_finished(instance) if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]  # noqa: E731
    [failed] = wait_for("the invalid example's run", failed_runs, log)
    checks = [e.asset_check_evaluation for e in instance.all_logs(failed.dagster_run.run_id)
              if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert [c.passed for c in checks] == [False]
    assert "| worldview/core/broken.jsonl | 1 | broken-1 | messages | missing assistant turn |" in checks[0].metadata["details"].value
    assert _versions(client) == {"1", "2", "3"}
    assert str(client.get_model_version_by_alias(MODEL, CHAMPION).version) == expected
