"""Runs of the definitions outside the Dagster UI: the CLI, the tests and the benchmarks start a knowledge,
training or evaluation run here and get back what it built as typed results, read from the assets'
metadata in this one place."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

import dagster as dg

from ..training.adapters import AdapterSpec
from .definitions import build_definitions

KNOWLEDGE_JOB = "reindex_knowledge"
KNOWLEDGE_AND_EVAL_JOB = "knowledge_and_eval"
EVALUATION_ASSETS = ["retrieval_eval", "consilium_eval"]

Folder = str | os.PathLike | None


@dataclass(frozen=True)
class Run:
    """One Dagster run: whether every step succeeded, each asset check's outcome, and Dagster's own result
    (the event log, and the metadata the asset pages show)."""
    run_id: str
    success: bool
    checks: dict[str, bool]
    dagster: dg.ExecuteInProcessResult

    def metadata(self, asset: str) -> dict:
        """The metadata of this run's materialization of `asset`, as its asset page shows it; empty when the
        run did not materialize it."""
        return _metadata(self.dagster, asset)


@dataclass(frozen=True)
class IndexBuilt:
    version: str
    new_version: bool
    chunks: int
    vectors: int
    files_indexed: int
    files_skipped: int
    vector_store: dict


@dataclass(frozen=True)
class Embedded:
    newly_embedded: int
    from_cache: int


@dataclass(frozen=True)
class RetrievalScores:
    questions: int
    hybrid_recall_at_5: float
    hybrid_mrr: float
    by_mode: str      # Markdown tables, as the asset page shows them
    by_language: str


@dataclass(frozen=True)
class KnowledgeRun(Run):
    index: IndexBuilt | None
    embedded: Embedded | None
    retrieval: RetrievalScores | None  # only in a run with the evaluation


@dataclass(frozen=True)
class SftDataset:
    train: int
    eval: int
    digest: str
    tokens_max: int
    max_seq_length: int


@dataclass(frozen=True)
class TrainedAdapter:
    mlflow_run_id: str
    mlflow_run: str   # the run's page in the MLflow UI
    registered_model: str
    version: str
    heldout_loss: float
    base_heldout_loss: float
    adapter_dir: str


@dataclass(frozen=True)
class ChampionVerdict:
    version: str
    heldout_loss: float
    became_champion: bool
    previous_champion: str
    champion_heldout_loss: float | None
    max_seq_length: int


@dataclass(frozen=True)
class TrainingRun(Run):
    dataset: SftDataset | None
    trained: TrainedAdapter | None
    verdict: ChampionVerdict | None

    @property
    def examples_valid(self) -> bool | None:
        """The blocking check on the worldview examples; None when it did not run."""
        return self.checks.get("examples_valid")


@dataclass(frozen=True)
class ConsiliumScores:
    mlflow_run_id: str
    mlflow_run: str
    adapters: str
    questions: int
    grounded_questions: int
    routing_accuracy: float
    by_configuration: str  # Markdown tables, as the asset page shows them
    grounded: str


@dataclass(frozen=True)
class EvaluationRun(Run):
    retrieval: RetrievalScores | None
    consilium: ConsiliumScores | None


@dataclass(frozen=True)
class FeedbackReview:
    waiting_for_review: int
    invalid: int
    accepted: int
    rejected: int


@dataclass(frozen=True)
class FeedbackRun(Run):
    review: FeedbackReview | None


def run_knowledge(materials: Folder = None, data: Folder = None, *, with_eval: bool = False,
                  instance: dg.DagsterInstance | None = None, log_level: str | None = None,
                  tags: dict[str, str] | None = None) -> KnowledgeRun:
    """The knowledge job (parse, chunk, embed, index), with the retrieval evaluation when `with_eval`."""
    run = _execute(materials, data, KNOWLEDGE_AND_EVAL_JOB if with_eval else KNOWLEDGE_JOB, instance, tags,
                   _run_config(log_level))
    return KnowledgeRun(**_outcome(run), index=_typed(IndexBuilt, run, "knowledge_index"),
                        embedded=_typed(Embedded, run, "chunk_embeddings"), retrieval=_retrieval(run))


def run_training(spec: AdapterSpec, materials: Folder = None, data: Folder = None, *, settings: dict | None = None,
                 tracking_uri: str | None = None, instance: dg.DagsterInstance | None = None,
                 log_level: str | None = None, tags: dict[str, str] | None = None) -> TrainingRun:
    """An adapter's dataset, LoRA run and comparison with the champion. `settings` are training settings for
    this run only, as the Launchpad edits them (resources: training_settings: config)."""
    resources = {"training_settings": settings, **_tracking(tracking_uri)}
    run = _execute(materials, data, ["base_model", spec.dataset_asset, spec.asset_name, spec.eval_asset], instance, tags,
                   _run_config(log_level, resources))
    return TrainingRun(**_outcome(run), dataset=_typed(SftDataset, run, spec.dataset_asset),
                       trained=_typed(TrainedAdapter, run, spec.asset_name), verdict=_typed(ChampionVerdict, run, spec.eval_asset))


def run_evaluation(materials: Folder = None, data: Folder = None, *, consilium: dict | None = None,
                   with_retrieval: bool = True, tracking_uri: str | None = None,
                   instance: dg.DagsterInstance | None = None, log_level: str | None = None,
                   tags: dict[str, str] | None = None) -> EvaluationRun:
    """consilium_eval (with `consilium` as its op config), after retrieval_eval unless `with_retrieval` is off."""
    assets = EVALUATION_ASSETS if with_retrieval else ["consilium_eval"]
    ops = {"consilium_eval": {"config": consilium}} if consilium else None
    run = _execute(materials, data, assets, instance, tags, _run_config(log_level, _tracking(tracking_uri), ops))
    return EvaluationRun(**_outcome(run), retrieval=_retrieval(run),
                         consilium=_typed(ConsiliumScores, run, "consilium_eval"))


def run_feedback_review(materials: Folder = None, data: Folder = None, *, instance: dg.DagsterInstance | None = None,
                        tags: dict[str, str] | None = None) -> FeedbackRun:
    """feedback_candidates: the waiting corrections validated and written as candidate examples."""
    run = _execute(materials, data, ["feedback_candidates"], instance, tags, {})
    return FeedbackRun(**_outcome(run), review=_typed(FeedbackReview, run, "feedback_candidates"))


def _execute(materials: Folder, data: Folder, target: str | list[str], instance: dg.DagsterInstance | None,
             tags: dict[str, str] | None, run_config: dict) -> dg.ExecuteInProcessResult:
    """A named job of the definitions, or those assets (and their checks) of the global asset job."""
    defs = build_definitions(materials and str(materials), data and str(data))
    if isinstance(target, str):
        job, selection = defs.resolve_job_def(target), None
    else:
        job, selection = defs.resolve_implicit_global_asset_job_def(), [dg.AssetKey(name) for name in target]
    return job.execute_in_process(run_config=run_config, instance=instance or dg.DagsterInstance.ephemeral(),
                                  asset_selection=selection, tags=tags, raise_on_error=False)


def _run_config(log_level: str | None, resources: dict[str, dict | None] | None = None, ops: dict | None = None) -> dict:
    config: dict = {"ops": ops} if ops else {}
    if log_level:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    if resources := {name: {"config": values} for name, values in (resources or {}).items() if values}:
        config["resources"] = resources
    return config


def _tracking(uri: str | None) -> dict[str, dict | None]:
    """The MLflow store of one run; None keeps the resource's own (MLFLOW_TRACKING_URI or the project's)."""
    return {"mlflow_tracking": {"tracking_uri": uri} if uri else None}


def _outcome(result: dg.ExecuteInProcessResult) -> dict:
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    return {"run_id": result.run_id, "success": result.success, "checks": checks, "dagster": result}


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    events = result.asset_materializations_for_node(asset)
    return {k: getattr(v, "value", v) for k, v in events[-1].metadata.items()} if events else {}


def _typed(cls, result: dg.ExecuteInProcessResult, asset: str, **keys: str):
    """`cls` from the asset's metadata in this run (None when the run did not materialize it); `keys` names
    the metadata key of a field whose name differs."""
    metadata = _metadata(result, asset)
    return cls(**{f.name: metadata[keys.get(f.name, f.name)] for f in fields(cls)}) if metadata else None


def _retrieval(result: dg.ExecuteInProcessResult) -> RetrievalScores | None:
    return _typed(RetrievalScores, result, "retrieval_eval", hybrid_recall_at_5="hybrid_recall@5")


def open_foreign_retriever(data: Folder = None):
    """The foreign evaluation set's materials indexed through the knowledge job (a no-op when unchanged)
    into `data` (default data/foreign), and a retriever over that index, for the benchmarks."""
    from ..consilium.evaluation.foreign_set import MATERIALS_DIR
    from ..rag.retrieval import open_retriever
    from ..rag_config import load_rag_config
    from ..settings import Paths

    paths = Paths.resolve(MATERIALS_DIR, data or Paths.resolve().data_dir / "foreign")
    run = run_knowledge(paths.materials_dir, paths.data_dir)
    if not run.success:
        raise RuntimeError(f"indexing {paths.materials_dir} failed (Dagster run {run.run_id})")
    return open_retriever(paths.index_dir, load_rag_config(paths.config_path))
