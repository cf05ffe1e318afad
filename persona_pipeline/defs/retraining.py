"""Retraining on change: a sensor per adapter watches its worldview examples (accepted feedback included:
it is written into the same folder) and requests that adapter's training job when the dataset they would
make has another digest. The job rebuilds the dataset (its blocking check stops an invalid one), trains,
and evaluates against the champion, which moves only for a better version.

At most one run per adapter waits: the adapter's assets share a pool (limit 1 in dagster.yaml), so a second
run queues behind the one training, and while one is queued the sensor requests no other, since the queued
run reads the folder when it starts. A run the sensor requested trains nothing when the newest registered
version already has this dataset digest and these settings.
"""
from __future__ import annotations

import json

import dagster as dg

from ..training.adapters import AdapterSpec
from .resources import MlflowTracking, PersonaPaths, TrainingSettingsResource

RETRAIN_TAG = "persona/retrain"       # on runs the sensor requests: the examples' digest that started them
ADAPTER_TAG = "persona/adapter"
CHECK_SECONDS = 5  # how often the examples are re-read: parsing a few YAML and JSONL files takes milliseconds
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]


def training_pool(spec: AdapterSpec) -> str:
    return f"training_{spec.key}"


def examples_digest(spec: AdapterSpec, persona_paths: PersonaPaths, training_settings: TrainingSettingsResource) -> tuple[str, int, int]:
    """The digest the adapter's dataset would have (the invalid examples' problems folded in, so that
    fixing one is a change), with the counts of valid examples and of problems."""
    import hashlib

    from ..sft.adapter_data import validate_examples
    from ..sft.dataset import dataset_digest

    settings = training_settings.settings()
    examples, problems = validate_examples(spec, persona_paths.paths(), settings)
    digest = dataset_digest(examples, system_prompt=settings.system_prompt, eval_fraction=settings.eval_fraction)
    if problems:
        digest = hashlib.sha256("\n".join([digest, *sorted(str(p) for p in problems)]).encode()).hexdigest()
    return digest, len(examples), len(problems)


def newest_version(spec: AdapterSpec, uri: str):
    """The adapter's newest registered version (its tags say which dataset and settings it was trained on), or None."""
    import mlflow

    from ..training.tracking import latest_version

    return latest_version(mlflow.MlflowClient(uri), spec.registered_model)


def build_retrain_sensor(spec: AdapterSpec, job) -> dg.SensorDefinition:
    @dg.sensor(name=f"retrain_{spec.key}_on_change", job=job, minimum_interval_seconds=CHECK_SECONDS,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Retrains {spec.title} when its worldview examples change what its dataset would hold.")
    def retrain_on_change(context: dg.SensorEvaluationContext, persona_paths: PersonaPaths,
                          training_settings: TrainingSettingsResource, mlflow_tracking: MlflowTracking):
        if not (persona_paths.paths().materials_dir / spec.examples_folder).is_dir():
            return dg.SkipReason(f"no {spec.title} examples: no folder {spec.examples_folder} in the materials")
        digest, valid, problems = examples_digest(spec, persona_paths, training_settings)
        if not valid and not problems:
            return dg.SkipReason(f"no {spec.title} examples in {spec.examples_folder}")
        cursor = json.loads(context.cursor) if context.cursor else {}
        # with no cursor yet (a new sensor), the registry says whether these examples were trained already
        known = cursor.get("digest") or _registered_digest(spec, mlflow_tracking.uri())
        seq = int(cursor.get("seq", 0))
        if known and digest.startswith(known):
            context.update_cursor(json.dumps({"digest": digest, "seq": seq}))
            return dg.SkipReason(f"{spec.title} examples unchanged (dataset digest {digest[:16]})")
        context.update_cursor(json.dumps({"digest": digest, "seq": seq + 1}))
        waiting = context.instance.get_run_records(dg.RunsFilter(job_name=job.name, statuses=WAITING,
                                                                 tags={ADAPTER_TAG: spec.key}), limit=1)
        if waiting:
            return dg.SkipReason(f"run {waiting[0].dagster_run.run_id} is queued for {spec.title}: it reads this change when it starts")
        # the pool's limit is known to the run queue before this run is queued (see the materials sensor)
        context.instance.event_log_storage.initialize_concurrency_limit_to_default(training_pool(spec))
        # the sequence number keeps a return to earlier examples (an edit undone) from reusing a run key
        return dg.RunRequest(run_key=f"{spec.key}-{seq + 1}-{digest[:16]}", tags={
            RETRAIN_TAG: digest[:16], ADAPTER_TAG: spec.key, "persona/examples": str(valid), "persona/problems": str(problems)})

    return retrain_on_change


def _registered_digest(spec: AdapterSpec, uri: str) -> str | None:
    from ..training.adapters import DATASET_TAG

    version = newest_version(spec, uri)
    return version.tags.get(DATASET_TAG) if version else None
