"""The knowledge jobs, the sensor that re-indexes when materials change, and the nightly schedule (each
adapter's training job comes with its assets, from adapter_assets)."""

import json

import dagster as dg

from ..ingest.discovery import content_digest, snapshot
from .knowledge_assets import GROUP, INDEX_WRITER_POOL, INDEX_WRITER_TAG
from .resources import PersonaPaths

reindex_job = dg.define_asset_job(
    "reindex_knowledge", selection=dg.AssetSelection.groups(GROUP), tags=INDEX_WRITER_TAG,
    description="Parse, chunk, embed and index the materials folder; unchanged chunks are not re-embedded.")

knowledge_and_eval_job = dg.define_asset_job(
    "knowledge_and_eval", selection=dg.AssetSelection.groups(GROUP) | dg.AssetSelection.assets("retrieval_eval"), tags=INDEX_WRITER_TAG,
    description="The knowledge assets and the retrieval evaluation on the golden set.")

@dg.sensor(job=reindex_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Requests a re-index when a file in the materials folder is added, changed or deleted.")
def materials_sensor(context: dg.SensorEvaluationContext, persona_paths: PersonaPaths):
    cursor = json.loads(context.cursor) if context.cursor else {}
    state = snapshot(persona_paths.paths().materials_dir, cursor.get("files"))
    digest = content_digest(state)
    if digest == cursor.get("digest"):
        context.update_cursor(json.dumps({**cursor, "files": state}))
        return dg.SkipReason(f"no change in {len(state)} files")
    previous = cursor.get("files") or {}
    added = sorted(set(state) - set(previous))
    deleted = sorted(set(previous) - set(state))
    changed = sorted(p for p in set(state) & set(previous) if state[p][2] != previous[p][2])
    seq = int(cursor.get("seq", 0)) + 1
    # the run queue learns a pool's limit only on the pass after it first meets the pool, so a run launched
    # from the asset graph in that pass would start beside this one; known before this run is queued, it
    # holds from the first pass (a no-op once the pool has its limit)
    context.instance.event_log_storage.initialize_concurrency_limit_to_default(INDEX_WRITER_POOL)
    context.update_cursor(json.dumps({"seq": seq, "digest": digest, "files": state}))
    # the sequence number is part of the key so that returning to an earlier state (a file deleted,
    # then restored) still re-indexes, while a re-evaluated tick never starts the same run twice
    return dg.RunRequest(run_key=f"{seq}-{digest[:16]}", tags={
        "persona/added": str(len(added)), "persona/changed": str(len(changed)), "persona/deleted": str(len(deleted))})


nightly_reindex = dg.ScheduleDefinition(
    name="nightly_reindex", job=reindex_job, cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Re-checks every file nightly, in case a change slipped past the sensor.")


defs = dg.Definitions(jobs=[reindex_job, knowledge_and_eval_job], sensors=[materials_sensor], schedules=[nightly_reindex])
