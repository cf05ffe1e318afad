"""Everything Dagster loads: `dagster dev` (workspace.yaml) and the CLI use these definitions."""
from __future__ import annotations

import dagster as dg

from . import consilium_assets, evaluation_assets, knowledge_assets, knowledge_checks
from .adapter_assets import adapter_definitions, base_model
from .jobs import adapter_jobs, knowledge_and_eval_job, materials_sensor, nightly_reindex, reindex_job
from .resources import EmbedderResource, MlflowTracking, PersonaPaths, TrainingSettingsResource


def build_definitions(materials: str | None = None, data: str | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules([knowledge_assets, evaluation_assets, consilium_assets]), base_model,
                *[d for d in adapter_definitions if not isinstance(d, dg.AssetChecksDefinition)]],
        asset_checks=[*dg.load_asset_checks_from_modules([knowledge_checks, evaluation_assets]),
                      *[d for d in adapter_definitions if isinstance(d, dg.AssetChecksDefinition)]],
        jobs=[reindex_job, knowledge_and_eval_job, *adapter_jobs],
        sensors=[materials_sensor],
        schedules=[nightly_reindex],
        # one process per run: the embedder and base model load once instead of once per step
        executor=dg.in_process_executor,
        resources={"persona_paths": PersonaPaths.from_environment(materials, data), "embedder": EmbedderResource(),
                   "mlflow_tracking": MlflowTracking(), "training_settings": TrainingSettingsResource()},
    )


defs = build_definitions()
