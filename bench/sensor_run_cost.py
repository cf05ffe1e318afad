"""What a re-index triggered by the sensor costs under `dagster dev`, against `persona index` for the same
change, in one run: a file is dropped into the watched folder and the sensor's run is timed from the
drop to its success, split by the run's own records into waiting for the sensor's tick, getting the run
going (the queue, the daemon, starting the run's process and loading the definitions) and the steps.

Usage: .venv/bin/python bench/sensor_run_cost.py
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

from corpus import PROJECT, copy_samples, machine, persona, project_env, timed_process

sys.path.insert(0, str(PROJECT / "tests"))
from ui_servers import free_port, serve  # noqa: E402

LECTURE = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nLecture {n}: strides and cadence, {n} times 200 metres.\n"
TIMEOUT = 300


def runs(home: Path) -> list:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_run_records(dg.RunsFilter(job_name="reindex_knowledge")))


def wait_for_new_run(home: Path, seen: set) -> object:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for record in runs(home):
            if record.dagster_run.run_id not in seen and record.dagster_run.is_finished:
                return record
        time.sleep(0.5)
    raise RuntimeError(f"no sensor run finished within {TIMEOUT} s")


def step_start(home: Path, run_id: str) -> float:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    return min(e.timestamp for e in events)


def main() -> None:
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="persona-sensor-bench-"))
    try:
        materials, home = work / "materials", work / "dagster_home"
        copy_samples(materials)
        home.mkdir()
        shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home)
        env = project_env(materials, work / "data", home)
        timed_process(persona("index"), env)
        port = free_port()
        with serve([sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                   cwd=PROJECT, env=env, ready_url=f"http://127.0.0.1:{port}/server_info", log=work / "dagster.log"):
            # the sensor's first tick has no cursor and requests one run: let it finish before timing
            first = wait_for_new_run(home, set())
            seen = {r.dagster_run.run_id for r in runs(home)} | {first.dagster_run.run_id}
            dropped = time.time()
            (materials / "lectures" / "sensor_1.vtt").write_text(LECTURE.format(n=1))
            record = wait_for_new_run(home, seen)
        run = record.dagster_run
        if run.status.value != "SUCCESS":
            raise RuntimeError(f"the sensor's run ended {run.status.value}; see {work / 'dagster.log'}")
        steps = step_start(home, run.run_id)
        (materials / "lectures" / "sensor_2.vtt").write_text(LECTURE.format(n=2))
        cli, _ = timed_process(persona("index"), env)
        print("one added lecture, re-indexed:")
        print(f"  by the sensor in `dagster dev`: {record.end_time - dropped:6.1f} s from the drop to the run's success")
        print(f"    waiting for the sensor's next tick:               {record.create_timestamp.timestamp() - dropped:5.1f} s")
        print(f"    queue, daemon, run process start and definitions: {record.start_time - record.create_timestamp.timestamp():5.1f} s")
        print(f"    run start to its first step:                      {steps - record.start_time:5.1f} s")
        print(f"    the steps themselves:                             {record.end_time - steps:5.1f} s")
        print(f"  by `persona index` (whole process):                {cli:6.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
