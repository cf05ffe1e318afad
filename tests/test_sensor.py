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
