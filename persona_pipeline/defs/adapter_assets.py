"""SFT datasets, the base model, the two LoRA adapters, their evaluation and training jobs, built by one factory
per adapter.

The training pipeline (trl, peft, datasets, mlflow: seconds of imports) is imported inside the assets, so
that loading these definitions, which every run process and `persona index` does, stays fast.
"""
import statistics

import dagster as dg

from .. import charts
from ..progress import Announcer, drawing
from ..training.adapters import ADAPTERS, AdapterSpec
from ..training.base_model import prepare_base_model
from ..training.distributed import launch_command
from ..training.tracking import model_version_url, run_url
from .grouping import EVALUATION, SFT, TRAINING, in_group
from .metadata import image, markdown_table
from .resources import MlflowTracking, PersonaPaths, TrainingSettingsResource
from .retraining import ADAPTER_TAG, RETRAIN_TAG, build_retrain_sensor, newest_version, training_pool
from .training_process import FAILURE_PREFIX, job_environment

PREVIEW_ROWS = 8    # training conversations shown in the dataset's metadata: enough to see its shape
PREVIEW_CHARS = 80  # of each message in the preview: enough to recognise it, short enough for one table row
TRAINING_MODULE = "persona_pipeline.defs.training_process"
TOKENS_PERCENTILE = 0.95  # tokens_p95: the length nearly every conversation fits in, less sensitive than the max


@dg.asset(kinds={"transformers"}, description="The base LLM as a local safetensors snapshot (the packaged SmolLM2 GGUF is converted once).")
def base_model(context: dg.AssetExecutionContext, training_settings: TrainingSettingsResource) -> dg.MaterializeResult:
    base = prepare_base_model(training_settings.base_model, log=Announcer(context.log.info))
    return dg.MaterializeResult(metadata={"model_id": base.model_id, "revision": base.revision[:16],
                                          "path": dg.MetadataValue.path(base.path)})


def _already_trained(spec: AdapterSpec, folders, settings, uri: str) -> str | None:
    """The newest registered version, when it was trained on this very dataset with these settings."""
    from ..sft.dataset import load_latest
    from ..training.adapters import DATASET_TAG, SETTINGS_TAG

    version = newest_version(spec, uri)
    digest = load_latest(folders.data_dir / "sft" / spec.key).digest
    if version and version.tags.get(DATASET_TAG) == digest[:16] and version.tags.get(SETTINGS_TAG) == settings.fingerprint():
        return str(version.version)
    return None


def _training_failure(context: dg.AssetExecutionContext, spec: AdapterSpec, uri: str, exc: Exception) -> str:
    """One line: the training process's own reason when it logged one, else whether it was killed."""
    from ..training.tracking import RunLogger

    closed = RunLogger(uri).close_abandoned_runs()  # a killed process could not end its MLflow run itself
    reasons = [entry.user_message for entry in context.instance.all_logs(context.run.run_id)
               if FAILURE_PREFIX in (entry.user_message or "")]
    if reasons:
        return f"{spec.title} {reasons[-1][reasons[-1].index(FAILURE_PREFIX):]}"
    if closed:
        return (f"{spec.title}: the training process was killed ({' '.join(str(exc).split())}); MLflow run "
                f"{', '.join(closed)} marked KILLED; the next run resumes from its last checkpoint")
    return f"{spec.title}: the training process ended without a result ({' '.join(str(exc).split())})"


def _problem_table(problems) -> str:
    return markdown_table(["file", "line", "example", "field", "problem"], [[p.file, p.line, p.example_id, p.field, p.message] for p in problems])


def build_adapter_definitions(spec: AdapterSpec) -> dg.Definitions:
    """The adapter's dataset (with its blocking check), LoRA run and evaluation, and the job that runs them."""

    @dg.asset(name=spec.dataset_asset, deps=[base_model], kinds={"huggingface"}, pool=training_pool(spec),
              description=f"{spec.title} worldview examples as a chat SFT dataset: validated, de-duplicated, split, saved with a digest.")
    def sft_dataset(context: dg.AssetExecutionContext, persona_paths: PersonaPaths,
                    training_settings: TrainingSettingsResource) -> dg.MaterializeResult:
        from ..consilium.runtime.loading import retrieval_augmenter
        from ..rag.index_store import IndexNotFound
        from ..sft.dataset import EmptyDataset
        from ..training.base_model import load_tokenizer
        from ..sft.adapter_data import build_sft_dataset, validate_examples

        settings = training_settings.settings()
        base = prepare_base_model(settings.base_model, log=Announcer(context.log.info))
        augment = None
        if settings.retrieval_augmented:
            try:
                augment = retrieval_augmenter(persona_paths.paths(), settings, load_tokenizer(base))
            except IndexNotFound as exc:
                raise dg.Failure(description=f"retrieval_augmented is on, but {exc}") from exc
        try:
            result = build_sft_dataset(spec, persona_paths.paths(), settings, base, augment)
        except EmptyDataset as exc:
            _, problems = validate_examples(spec, persona_paths.paths(), settings)
            raise dg.Failure(description=f"{spec.title}: {exc}. Problems:\n" + "\n".join(str(p) for p in problems),
                             metadata={"problems": dg.MetadataValue.md(_problem_table(problems))}) from exc
        for problem in result.problems:
            context.log.warning(str(problem))
        data, lengths = result.dataset.data, sorted(result.token_lengths) or [0]
        preview = [[r["id"], r["messages"][-2]["content"][:PREVIEW_CHARS], r["messages"][-1]["content"][:PREVIEW_CHARS]]
                   for r in data["train"].select(range(min(PREVIEW_ROWS, len(data["train"]))))]
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(result.dataset.path)), "digest": result.dataset.digest[:16],
            "train": len(data["train"]), "eval": len(data["eval"]), "problems": len(result.problems),
            "tokens_mean": round(statistics.mean(lengths), 1), "tokens_p95": lengths[int(TOKENS_PERCENTILE * (len(lengths) - 1))],
            "tokens_max": lengths[-1], "max_seq_length": settings.max_seq_length,
            "token_lengths": image(charts.token_histogram(lengths, f"{spec.title} conversation length (base tokenizer)", settings.max_seq_length),
                                   "conversation token lengths"),
            "preview": dg.MetadataValue.md(markdown_table(["id", "user", "assistant"], preview)),
        })

    @dg.asset_check(asset=spec.dataset_asset, name="examples_valid", blocking=True,
                    description="Every worldview example is valid; lists every problem with file, line or id, and field.")
    def examples_valid(persona_paths: PersonaPaths, training_settings: TrainingSettingsResource) -> dg.AssetCheckResult:
        from ..sft.adapter_data import validate_examples

        _, problems = validate_examples(spec, persona_paths.paths(), training_settings.settings())
        return dg.AssetCheckResult(passed=not problems, metadata={
            "problems": len(problems),
            "details": dg.MetadataValue.md(_problem_table(problems))})

    @dg.asset(name=spec.asset_name, deps=[spec.dataset_asset, base_model], kinds={"peft", "mlflow"},
              tags={ADAPTER_TAG: spec.key}, pool=training_pool(spec), output_required=False,
              description=f"The {spec.title} LoRA adapter: trained with trl, logged to MLflow, registered as {spec.registered_model}.")
    def lora(context: dg.AssetExecutionContext, persona_paths: PersonaPaths, mlflow_tracking: MlflowTracking,
             training_settings: TrainingSettingsResource, training_launcher: dg.ResourceParam[dg.PipesClient]):
        """Trains in its own process (or torchrun's processes) through Dagster Pipes: the `training_launcher`
        resource decides where that process runs (a subprocess here; a Kubernetes pod or a GPU host by swapping it).
        A run the retrain sensor requested materializes nothing when the dataset and settings were trained already."""
        from ..training.outcome import TrainingOutcome

        settings, uri = training_settings.settings(), mlflow_tracking.uri()
        folders = persona_paths.paths()
        if RETRAIN_TAG in context.run.tags and (trained := _already_trained(spec, folders, settings, uri)):
            context.log.info(f"{spec.title}: the dataset and settings of version {trained} again; nothing to train")
            return
        env = job_environment(adapter=spec.key, materials_dir=str(folders.materials_dir), data_dir=str(folders.data_dir),
                              config_path=str(folders.config_path), settings=settings.model_dump(), tracking_uri=uri,
                              tags={"dagster.run_id": context.run.run_id, "dagster.asset": spec.asset_name}, terminal=drawing())
        try:
            invocation = training_launcher.run(context=context, command=launch_command(TRAINING_MODULE, settings.processes), env=env)
        except Exception as exc:  # any client's failure: the process's own one-line reason is in the run log
            raise dg.Failure(description=_training_failure(context, spec, uri, exc)) from exc
        outcome = TrainingOutcome.from_json(invocation.get_custom_messages()[-1])
        yield dg.MaterializeResult(metadata={
            "mlflow_run_id": outcome.run_id, "registered_model": spec.registered_model, "version": outcome.version,
            "steps": outcome.steps, "eval_loss": outcome.eval_loss, "heldout_loss": outcome.heldout_loss,
            "base_heldout_loss": outcome.base_heldout_loss, "seconds": round(outcome.seconds, 1),
            "resumed_from_checkpoint": outcome.resumed_from or "", "adapter_dir": dg.MetadataValue.path(str(outcome.adapter_dir)),
            "loss_curve": image(charts.loss_curves(outcome.loss_history, f"{spec.title} loss"), "train and eval loss by step"),
            "mlflow_run": dg.MetadataValue.url(run_url(uri, outcome.experiment_id, outcome.run_id)),
            "mlflow_model_version": dg.MetadataValue.url(model_version_url(uri, spec.registered_model, outcome.version)),
            "mlflow_tracking_uri": uri})

    @dg.asset(name=spec.eval_asset, deps=[spec.asset_name], kinds={"mlflow"}, pool=training_pool(spec),
              description=f"Compares the newest {spec.title} version with the champion on the held-out set; moves the alias only when better.")
    def adapter_eval(context: dg.AssetExecutionContext, persona_paths: PersonaPaths, mlflow_tracking: MlflowTracking,
                     training_settings: TrainingSettingsResource) -> dg.MaterializeResult:
        from ..training.promotion import evaluate_and_promote

        trained = context.instance.get_latest_materialization_event(dg.AssetKey(spec.asset_name))
        if trained is None:
            raise dg.Failure(f"{spec.asset_name} has not been materialized yet")
        version = str(trained.asset_materialization.metadata["version"].value)
        settings = training_settings.settings()
        outcome = evaluate_and_promote(spec, persona_paths.paths(), settings, version, report=Announcer(context.log.info),
                                       uri=mlflow_tracking.uri())
        return dg.MaterializeResult(metadata={
            "version": outcome.version, "heldout_loss": outcome.heldout_loss, "became_champion": outcome.promoted,
            "mlflow_model_version": dg.MetadataValue.url(model_version_url(mlflow_tracking.uri(), spec.registered_model, outcome.version)),
            "previous_champion": outcome.champion_version or "", "champion_heldout_loss": outcome.champion_loss,
            "max_seq_length": settings.max_seq_length})

    train_job = dg.define_asset_job(
        f"train_{spec.key}", description=f"Dataset, {spec.title} adapter and its evaluation against the champion.",
        selection=dg.AssetSelection.assets(spec.dataset_asset, spec.asset_name, spec.eval_asset).upstream(depth=1))
    return dg.Definitions(assets=[*in_group(SFT, sft_dataset), *in_group(TRAINING, lora), *in_group(EVALUATION, adapter_eval)],
                          asset_checks=[examples_valid], jobs=[train_job], sensors=[build_retrain_sensor(spec, train_job)])


defs = dg.Definitions.merge(dg.Definitions(assets=in_group(TRAINING, base_model)),
                            *[build_adapter_definitions(spec) for spec in ADAPTERS.values()])
