"""The re-index sensor on a real temp folder: add, change, delete, touch, no change; on an instance
configured as the shipped dagster_home/dagster.yaml."""
import json
import os

import dagster as dg
import pytest
import yaml

from conftest import PROJECT
from persona_pipeline.defs.jobs import materials_sensor
from persona_pipeline.defs.knowledge_assets import INDEX_WRITER_POOL
from persona_pipeline.defs.resources import PersonaPaths


@pytest.fixture
def instance():
    shipped = yaml.safe_load((PROJECT / "dagster_home" / "dagster.yaml").read_text())
    with dg.instance_for_test(overrides={"concurrency": shipped["concurrency"]}) as instance:
        yield instance


def evaluate(folder, instance, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, instance=instance,
                                      resources={"persona_paths": PersonaPaths.from_environment(str(folder), str(folder.parent / "data"))})
    result = materials_sensor.evaluate_tick(context)
    return result.run_requests, result.cursor, result.skip_message


def test_the_first_run_it_requests_already_waits_for_any_other_index_writer(materials, instance):
    """The run queue learns a pool's limit a pass after it first meets the pool; the sensor sets it before
    its run is queued, so a run launched from the asset graph meanwhile waits for it."""
    assert INDEX_WRITER_POOL not in instance.event_log_storage.get_concurrency_keys()
    requests, _, _ = evaluate(materials, instance)
    assert len(requests) == 1
    assert instance.event_log_storage.get_concurrency_info(INDEX_WRITER_POOL).slot_count == 1


def test_sensor_requests_runs_only_when_content_changes(materials, instance):
    requests, cursor, _ = evaluate(materials, instance)
    assert len(requests) == 1 and requests[0].job_name in (None, "reindex_knowledge")
    first_key = requests[0].run_key

    requests, cursor, skip = evaluate(materials, instance, cursor)
    assert requests == [] and "no change" in skip

    os.utime(materials / "articles/threshold_training.md", (1, 1))
    requests, cursor, skip = evaluate(materials, instance, cursor)
    assert requests == [], "touching a file must not re-index"

    (materials / "lectures/new.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nНовая лекция\n")
    requests, cursor, _ = evaluate(materials, instance, cursor)
    assert len(requests) == 1 and requests[0].tags["persona/added"] == "1"
    added_key = requests[0].run_key
    assert added_key != first_key

    (materials / "lectures/new.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nИсправленная лекция\n")
    requests, cursor, _ = evaluate(materials, instance, cursor)
    assert len(requests) == 1 and requests[0].tags["persona/changed"] == "1"

    (materials / "lectures/new.srt").unlink()
    requests, cursor, _ = evaluate(materials, instance, cursor)
    assert len(requests) == 1 and requests[0].tags["persona/deleted"] == "1"
    assert requests[0].run_key not in (first_key, added_key), "returning to an earlier state must still re-index"


def test_same_tick_reevaluated_gives_the_same_run_key(materials, instance):
    requests, cursor, _ = evaluate(materials, instance)
    (materials / "logs/extra.csv").write_text("Date,Session\n2026-05-01,Easy\n")
    again_a, _, _ = evaluate(materials, instance, cursor)
    again_b, _, _ = evaluate(materials, instance, cursor)
    assert again_a[0].run_key == again_b[0].run_key
    assert json.loads(cursor)["seq"] == 1


def retrain_tick(materials, instance, cursor=None, uri="sqlite:///:memory:"):
    from persona_pipeline.defs.definitions import build_definitions
    from persona_pipeline.defs.resources import MlflowTracking, TrainingSettingsResource

    sensor = build_definitions(str(materials), str(materials.parent / "data")).resolve_sensor_def("retrain_core_on_change")
    context = dg.build_sensor_context(cursor=cursor, instance=instance, resources={
        "persona_paths": PersonaPaths.from_environment(str(materials), str(materials.parent / "data")),
        "training_settings": TrainingSettingsResource(), "mlflow_tracking": MlflowTracking(tracking_uri=uri)})
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.cursor, result.skip_message


def test_the_retrain_sensor_asks_for_a_run_only_when_the_dataset_would_change(tmp_path, instance):
    import shutil

    from conftest import SAMPLES
    from persona_pipeline.defs.retraining import ADAPTER_TAG, RETRAIN_TAG

    materials = tmp_path / "materials"
    requests, _, skip = retrain_tick(materials, instance)
    assert requests == [] and "no folder worldview/core" in skip
    shutil.copytree(SAMPLES / "worldview" / "core", materials / "worldview" / "core")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    [first], cursor, _ = retrain_tick(materials, instance, uri=uri)  # nothing registered: train what is there
    assert first.tags[ADAPTER_TAG] == "core" and first.tags["persona/examples"] == "60"

    english = materials / "worldview" / "core" / "principles_en.yaml"
    english.write_text(english.read_text() + "# reviewed in December\n")  # the file changes, the dataset does not
    requests, cursor, skip = retrain_tick(materials, instance, cursor)
    assert requests == [] and "CoreSelf examples unchanged" in skip

    english.write_text(english.read_text().replace("One main goal.", "One main goal, and only one."))
    [edited], cursor, _ = retrain_tick(materials, instance, cursor)
    assert edited.tags[RETRAIN_TAG] != first.tags[RETRAIN_TAG] and edited.run_key != first.run_key

    # a run of this adapter waits in the queue: it will read the folder when it starts, so no other is asked for
    # (NOT_STARTED: a queued run record needs a code location behind it; the sensor counts both as waiting)
    instance.add_run(dg.DagsterRun(job_name="train_core", status=dg.DagsterRunStatus.NOT_STARTED, tags={ADAPTER_TAG: "core"}))
    english.write_text(english.read_text().replace("One main goal, and only one.", "One goal."))
    requests, cursor, skip = retrain_tick(materials, instance, cursor)
    assert requests == [] and "is queued for CoreSelf" in skip

    # an invalid example still asks for a run: its blocking check reports the problem where the user looks
    for run in instance.get_runs():
        instance.delete_run(run.run_id)
    (materials / "worldview" / "core" / "broken.jsonl").write_text('{"id": "b", "messages": [{"role": "user", "content": "q"}]}\n')
    [broken], _, _ = retrain_tick(materials, instance, cursor)
    assert broken.tags["persona/problems"] == "1"
