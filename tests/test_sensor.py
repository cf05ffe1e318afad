"""The re-index sensor on a real temp folder: add, change, delete, touch, no change."""
import json
import os

import dagster as dg

from persona_pipeline.defs.jobs import materials_sensor
from persona_pipeline.defs.resources import PersonaPaths


def evaluate(folder, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"persona_paths": PersonaPaths.from_environment(str(folder), str(folder.parent / "data"))})
    result = materials_sensor.evaluate_tick(context)
    return result.run_requests, result.cursor, result.skip_message


def test_sensor_requests_runs_only_when_content_changes(materials):
    requests, cursor, _ = evaluate(materials)
    assert len(requests) == 1 and requests[0].job_name in (None, "reindex_knowledge")
    first_key = requests[0].run_key

    requests, cursor, skip = evaluate(materials, cursor)
    assert requests == [] and "no change" in skip

    os.utime(materials / "articles/threshold_training.md", (1, 1))
    requests, cursor, skip = evaluate(materials, cursor)
    assert requests == [], "touching a file must not re-index"

    (materials / "lectures/new.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nНовая лекция\n")
    requests, cursor, _ = evaluate(materials, cursor)
    assert len(requests) == 1 and requests[0].tags["persona/added"] == "1"
    added_key = requests[0].run_key
    assert added_key != first_key

    (materials / "lectures/new.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nИсправленная лекция\n")
    requests, cursor, _ = evaluate(materials, cursor)
    assert len(requests) == 1 and requests[0].tags["persona/changed"] == "1"

    (materials / "lectures/new.srt").unlink()
    requests, cursor, _ = evaluate(materials, cursor)
    assert len(requests) == 1 and requests[0].tags["persona/deleted"] == "1"
    assert requests[0].run_key not in (first_key, added_key), "returning to an earlier state must still re-index"


def test_same_tick_reevaluated_gives_the_same_run_key(materials):
    requests, cursor, _ = evaluate(materials)
    (materials / "logs/extra.csv").write_text("Date,Session\n2026-05-01,Easy\n")
    again_a, _, _ = evaluate(materials, cursor)
    again_b, _, _ = evaluate(materials, cursor)
    assert again_a[0].run_key == again_b[0].run_key
    assert json.loads(cursor)["seq"] == 1
