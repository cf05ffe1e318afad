"""How long retraining on change takes on the sample CoreSelf worldview with the default training settings
and the packaged SmolLM2, through the real `dagster-daemon`: from saving an edited example to the new
version evaluated against the champion, split by the run's own records into waiting for the sensor's tick,
getting the run going, the dataset, the training (its own process through Dagster Pipes) and the evaluation.

The daemon first trains version 1 (the examples were never trained), then one answer is edited.

Usage: .venv/bin/python bench/retrain_on_change.py [--max-steps N]
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from corpus import PROJECT, SAMPLES, machine, project_env

sys.path.insert(0, str(PROJECT / "tests"))
from ui_servers import BIN, spawn  # noqa: E402

TIMEOUT = 1800
STEPS = ("sft_dataset_core", "lora_core_self", "core_self_eval")


def core_runs(home: Path) -> list:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_run_records(dg.RunsFilter(tags={"persona/adapter": "core"})))


def wait_for_runs(home: Path, count: int) -> list:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        records = core_runs(home)
        if len(records) >= count and all(r.dagster_run.is_finished for r in records):
            return records
        time.sleep(1)
    raise RuntimeError(f"{count} CoreSelf retrain runs did not finish within {TIMEOUT} s")


def step_seconds(home: Path, run_id: str) -> dict[str, float]:
    """Each step's wall time, from its start event to its success event."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        events = instance.all_logs(run_id)
    started, ended = {}, {}
    for event in events:
        kind = event.dagster_event.event_type_value if event.dagster_event else None
        if kind == "STEP_START":
            started[event.step_key] = event.timestamp
        elif kind == "STEP_SUCCESS":
            ended[event.step_key] = event.timestamp
    return {step: ended[step] - started[step] for step in STEPS if step in started and step in ended}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-steps", type=int, default=None, help="the default training settings' when not given")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="persona-retrain-bench-"))
    try:
        materials, home = root / "materials", root / "dagster_home"
        shutil.copytree(SAMPLES / "worldview" / "core", materials / "worldview" / "core")
        env = project_env(materials, root / "data", home)
        shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home)
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        if args.max_steps:
            (root / "training.yaml").write_text(json.dumps({"max_steps": args.max_steps}))
            env["PERSONA_TRAINING_CONFIG"] = str(root / "training.yaml")
        with spawn([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], cwd=PROJECT, env=env, log=root / "daemon.log"):
            started = time.monotonic()
            wait_for_runs(home, 1)
            first = time.monotonic() - started
            english = materials / "worldview" / "core" / "principles_en.yaml"
            edited = time.time()
            english.write_text(english.read_text().replace("One main goal.", "One main goal, and only one."))
            records = wait_for_runs(home, 2)
        import mlflow

        client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
        champion = client.get_model_version_by_alias("persona-core-self", "champion")
        second = max(records, key=lambda r: r.create_timestamp)
        steps = step_seconds(home, second.dagster_run.run_id)
        print(machine())
        print(f"version 1 (the daemon's first tick, nothing trained before): {first:.0f} s")
        print(f"edit saved -> run requested by the sensor: {second.create_timestamp.timestamp() - edited:.1f} s")
        print(f"run requested -> run started (queue, run process, definitions): {second.start_time - second.create_timestamp.timestamp():.1f} s")
        for step, seconds in steps.items():
            print(f"  {step}: {seconds:.1f} s")
        print(f"edit saved -> version 2 evaluated: {second.end_time - edited:.0f} s; champion now version {champion.version}"
              f" (held-out loss v1 {client.get_model_version('persona-core-self', '1').tags['heldout_loss']},"
              f" v2 {client.get_model_version('persona-core-self', '2').tags['heldout_loss']})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
