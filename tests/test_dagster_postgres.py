"""Dagster on PostgreSQL (dagster_home/postgres/dagster.yaml, a real PostgreSQL server): the knowledge
assets materialized in-process and a run started by the sensor's tick in the real daemon both land in
Postgres, and are read back through DagsterInstance and with plain SQL."""
import os
import shutil
import time

import dagster as dg
import pytest

from conftest import PROJECT
from persona_pipeline.defs.runs import run_knowledge
from ui_servers import BIN, spawn, tail

DATABASE = "dagster"
SENSOR = "materials_sensor"
SENSOR_RUN_TIMEOUT_S = 240


@pytest.fixture
def instance(postgres, tmp_path, monkeypatch):
    postgres.create_database(DATABASE)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "postgres" / "dagster.yaml", home)
    for name, value in postgres.dagster_env(DATABASE).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_materializations_and_the_sensors_run_are_stored_in_postgres(postgres, instance, materials, data_dir, tmp_path):
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    result = run_knowledge(materials, data_dir, instance=instance)
    assert result.success and all(result.checks.values())

    # the daemon ticks the sensor (it is on by default), which queues a reindex run; the daemon's run
    # queue launches it in a process of its own, against the same Postgres instance
    env = {**os.environ, "PERSONA_MATERIALS_DIR": str(materials), "PERSONA_DATA_DIR": str(data_dir),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONPATH": str(PROJECT)}
    log = tmp_path / "daemon.log"
    with spawn([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT, env=env, log=log):
        sensor_run = _finished_sensor_run(instance, log)
    assert sensor_run.status == dg.DagsterRunStatus.SUCCESS, tail(log)
    assert sensor_run.job_name == "reindex_knowledge" and sensor_run.tags["dagster/run_key"].startswith("1-")

    latest = instance.get_latest_materialization_event(dg.AssetKey("knowledge_index"))
    assert latest.run_id == sensor_run.run_id
    assert latest.asset_materialization.metadata["new_version"].value is False, "same materials: no new version"

    with postgres.cursor(DATABASE) as cursor:
        cursor.execute("SELECT run_id, status FROM runs ORDER BY create_timestamp")
        assert cursor.fetchall() == [(result.run_id, "SUCCESS"), (sensor_run.run_id, "SUCCESS")]
        cursor.execute("SELECT run_id, count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
                       "GROUP BY run_id")
        assert dict(cursor.fetchall()) == {result.run_id: 4, sensor_run.run_id: 4}
        cursor.execute("SELECT tick_body::json -> 'run_ids' FROM job_ticks WHERE type = 'SENSOR' AND status = 'SUCCESS' "
                       "AND tick_body::json ->> 'job_name' = %s", (SENSOR,))
        assert [run_ids for run_ids, in cursor.fetchall()] == [[sensor_run.run_id]]


def _finished_sensor_run(instance, log):
    deadline = time.monotonic() + SENSOR_RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": SENSOR}))
        if runs and runs[0].is_finished:
            return runs[0]
        time.sleep(1)
    pytest.fail(f"no finished {SENSOR} run after {SENSOR_RUN_TIMEOUT_S} s; daemon log:\n{tail(log)}")
