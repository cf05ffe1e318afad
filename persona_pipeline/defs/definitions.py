"""Everything Dagster loads: `dagster dev` (workspace.yaml) and the CLI use these definitions."""
from __future__ import annotations

import dagster as dg

from . import adapter_assets, consilium_assets, evaluation_assets, feedback_assets, jobs, knowledge_assets, knowledge_checks
from .resources import EmbedderResource, MlflowTracking, PersonaPaths, TrainingSettingsResource


def build_definitions(materials: str | None = None, data: str | None = None,
                      training_launcher: dg.PipesClient | None = None) -> dg.Definitions:
    """`training_launcher`: the Dagster Pipes client that runs each LoRA training process; a subprocess
    of the run by default (docs/scale-out.md shows a Kubernetes pod on a GPU node instead)."""
    # each module's assets, checks and jobs; no other Definitions at module scope: Dagster loads only one
    return dg.Definitions.merge(
        knowledge_assets.defs, knowledge_checks.defs, evaluation_assets.defs, adapter_assets.defs, consilium_assets.defs,
        feedback_assets.defs, jobs.defs,
        dg.Definitions(
            # one process per run: the embedder and base model load once instead of once per step
            executor=dg.in_process_executor,
            resources={"persona_paths": PersonaPaths.from_environment(materials, data), "embedder": EmbedderResource(),
                       "mlflow_tracking": MlflowTracking(), "training_settings": TrainingSettingsResource(),
                       "training_launcher": training_launcher or dg.PipesSubprocessClient()}),
    )


defs = build_definitions()
