"""Retraining on change through the real `dagster-daemon`, on the shipped instance settings and a tiny base
model: an edited worldview example retrains, evaluates and moves the champion only when better; an edit
that leaves the dataset's digest alone trains nothing; ten quick edits during a training queue one more run,
not ten; an invalid example stops the retrain with its message on the asset, and the champion stays."""
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
from persona_pipeline.training.adapters import CHAMPION
from ui_servers import BIN, spawn, tail

MODEL = "persona-core-self"
WAIT = 240  # seconds for one retrain (run start, dataset, a training process, evaluation) on 2 busy cores
QUICK_EDITS = 10
UNCHANGED = "CoreSelf examples unchanged"  # the sensor's skip message, which the daemon logs on each such tick


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
    materials = tmp_path / "materials"
    shutil.copytree(SAMPLES / "worldview" / "core", materials / "worldview" / "core")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home)
    training = tmp_path / "training.yaml"
    training.write_text(yaml.safe_dump({**TINY_RUN, "base_model": tiny_base.path, "learning_rate": 0.01}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PERSONA_MATERIALS_DIR": str(materials),
           "PERSONA_DATA_DIR": str(tmp_path / "data"), "MLFLOW_TRACKING_URI": uri, "PERSONA_TRAINING_CONFIG": str(training)}
    log = tmp_path / "daemon.log"
    with spawn([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT, env=env, log=log):
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield materials / "worldview" / "core", MlflowClient(uri), instance, log


def _versions(client) -> dict[str, dict]:
    return {str(v.version): v.tags for v in client.search_model_versions(f"name='{MODEL}'")}


def _core_runs(instance, *statuses):
    return instance.get_run_records(dg.RunsFilter(tags={ADAPTER_TAG: "core"}, statuses=list(statuses) or None))


def _settled(instance, count: int):
    """`count` retrain runs requested, and none of them queued or running."""
    records = _core_runs(instance)
    return len(records) == count and all(r.dagster_run.is_finished for r in records) and records


def _built_in(instance, run_id: str) -> bool:
    """Whether that run built the CoreSelf dataset: from then on, it trains on what the folder held then."""
    event = instance.get_latest_materialization_event(dg.AssetKey("sft_dataset_core"))
    return event is not None and event.run_id == run_id


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(MODEL, CHAMPION).version)


def _better_of(client, champion: str, candidate: str) -> str:
    """The version the evaluation should leave as champion: the candidate only when its held-out loss is lower."""
    tags = _versions(client)
    return candidate if float(tags[candidate]["heldout_loss"]) < float(tags[champion]["heldout_loss"]) else champion


def test_worldview_changes_retrain_through_the_daemon(daemon):
    folder, client, instance, log = daemon
    english = folder / "principles_en.yaml"

    # the examples were never trained: the sensor's first tick trains version 1, which becomes champion
    wait_for("version 1", lambda: _settled(instance, 1), log)
    assert set(_versions(client)) == {"1"} and _champion(client) == "1"

    # a comment changes the file, not the dataset: the sensor's next ticks train nothing
    skips = log.read_text().count(UNCHANGED)
    english.write_text(english.read_text() + "# reviewed in December\n")
    wait_for("two ticks after the comment", lambda: log.read_text().count(UNCHANGED) >= skips + 2, log)
    assert len(_core_runs(instance)) == 1

    # one answer edited: a new version whose MLflow run names the changed example, and the better one is champion
    edited_at = time.monotonic()
    english.write_text(english.read_text().replace("One main goal.", "One main goal, and only one."))
    [started] = wait_for("a retrain run started", lambda: _core_runs(instance, dg.DagsterRunStatus.STARTED), log)
    wait_for("its dataset built", lambda: _built_in(instance, started.dagster_run.run_id), log)
    # ten quick edits while it trains: one more run waits for the training pool, not ten
    for i in range(QUICK_EDITS):
        english.write_text(re.sub(r"In the same order every time[^.]*\.", f"In the same order every time ({i}).", english.read_text()))
        time.sleep(1)
    records = wait_for("the edits' runs to finish", lambda: _settled(instance, 3), log)
    seconds = time.monotonic() - edited_at
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    versions = _versions(client)
    assert set(versions) == {"1", "2", "3"}
    second = client.get_run(client.get_model_version(MODEL, "2").run_id)
    assert second.data.tags["examples_changed_since"] == "v1" and second.data.tags["examples_changed"] == "1"
    changes = client.download_artifacts(second.info.run_id, "examples_changed.json")
    assert '"core-en-03"' in open(changes).read()
    third = client.get_run(client.get_model_version(MODEL, "3").run_id)
    assert third.data.tags["examples_changed_since"] == "v2" and third.data.tags["examples_changed"] == "1"
    assert versions["3"]["dataset_digest"] != versions["2"]["dataset_digest"] != versions["1"]["dataset_digest"]
    assert _champion(client) == _better_of(client, _better_of(client, "1", "2"), "3")
    print(f"\nedit -> new version evaluated, twice over (one edit, then {QUICK_EDITS} quick ones): {seconds:.0f} s")

    # an invalid example: the retrain stops at the dataset's blocking check, saying why; no version, same champion
    champion = _champion(client)
    (folder / "broken.jsonl").write_text('{"id": "broken-1", "messages": [{"role": "user", "content": "q"}]}\n')
    [failed] = [r for r in wait_for("the invalid example's run", lambda: _settled(instance, 4), log)
                if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS]
    checks = [e.asset_check_evaluation for e in instance.all_logs(failed.dagster_run.run_id)
              if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert [c.passed for c in checks] == [False]
    assert "| worldview/core/broken.jsonl | 1 | broken-1 | messages | missing assistant turn |" in checks[0].metadata["details"].value
    assert set(_versions(client)) == {"1", "2", "3"} and _champion(client) == champion
