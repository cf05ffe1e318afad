"""The training process a LoRA asset launches through Dagster Pipes (`python -m`, or under torchrun).

The job (adapter, folders, settings, tracking store) comes in the environment, so that every process of a
multi-process run reads it; the main process alone opens Pipes, reports progress and stage messages as
logs, and the outcome (MLflow run, version, losses, adapter folder) as a message the asset turns into
metadata. A failure is logged in one line with FAILURE_PREFIX before the process exits non-zero.
"""
from __future__ import annotations

import json
import os
import sys

JOB_ENV = "PERSONA_TRAINING_JOB"
FAILURE_PREFIX = "training failed: "


def job_environment(*, adapter: str, materials_dir: str, data_dir: str, config_path: str, settings: dict,
                    tracking_uri: str, tags: dict[str, str], terminal: bool) -> dict[str, str]:
    return {JOB_ENV: json.dumps({"adapter": adapter, "materials_dir": materials_dir, "data_dir": data_dir,
                                 "config_path": config_path, "settings": settings, "tracking_uri": tracking_uri,
                                 "tags": tags, "terminal": terminal})}


def main() -> None:
    from ..progress import Announcer, draw_in_terminal
    from ..settings import Paths
    from ..training.adapters import ADAPTERS
    from ..training.distributed import is_main
    from ..training.pipeline import train_adapter
    from ..training.settings import TrainingSettings

    job = json.loads(os.environ[JOB_ENV])
    spec, settings = ADAPTERS[job["adapter"]], TrainingSettings.model_validate(job["settings"])
    paths = Paths.resolve(job["materials_dir"], job["data_dir"], job["config_path"])

    def train(report):
        return train_adapter(spec, paths, settings, report=report, uri=job["tracking_uri"], tags=job["tags"])

    if not is_main():
        train(lambda message: None)
        return
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        # the asset's process draws no bars while this one trains: its terminal is this process's stderr
        draw_in_terminal(sys.stderr if job["terminal"] else None)
        try:
            outcome = train(Announcer(pipes.log.info))
        except Exception as exc:
            pipes.log.error(FAILURE_PREFIX + " ".join(f"{type(exc).__name__}: {exc}".split()))
            raise
        pipes.report_custom_message(outcome.to_json())


if __name__ == "__main__":
    main()
