"""The consilium evaluated as an asset and tracked as an MLflow run (models and mlflow imported when it runs)."""
import dagster as dg

from .. import charts
from ..consilium.evaluation import CONFIGURATIONS, HeldoutPrompt, evaluate_consilium
from ..progress import Announcer, Progress
from ..rag.evaluation import load_golden_set
from ..training.adapters import ADAPTERS
from ..training.settings import TrainingSettings
from ..training.tracking import run_url, use_experiment
from .metadata import image, markdown_table
from .resources import MlflowTracking, PersonaPaths

METRICS = ("answer_similarity", "reference_loss", "expected_source_retrieved", "citations_in_answer_correct")


class ConsiliumEvalConfig(dg.Config):
    questions_per_set: int = 3
    max_new_tokens: int = 48


@dg.asset(deps=["knowledge_index", "core_self_eval", "sport_mind_eval"], group_name="evaluation", kinds={"mlflow"},
          owners=["team:persona"],
          description="base / base+RAG / adapters / adapters+RAG side by side on golden and held-out questions, tracked in MLflow.")
def consilium_eval(context: dg.AssetExecutionContext, config: ConsiliumEvalConfig, persona_paths: PersonaPaths,
                   mlflow_tracking: MlflowTracking) -> dg.MaterializeResult:
    import mlflow

    from ..consilium.loading import open_consilium
    from ..training.pipeline import load_heldout

    paths, knowledge = persona_paths.paths(), persona_paths.knowledge_config()
    announce = Announcer(context.log.info)
    consilium = open_consilium(paths, uri=mlflow_tracking.uri(), log=announce)
    golden = load_golden_set(knowledge.golden_set)[: config.questions_per_set]
    heldout = []
    for key, spec in ADAPTERS.items():
        for messages in load_heldout(spec, TrainingSettings())[: config.questions_per_set]:
            user = next(m["content"] for m in messages if m["role"] == "user")
            reference = next(m["content"] for m in messages if m["role"] == "assistant")
            heldout.append(HeldoutPrompt(user, reference, sport=key == "sport"))
    results = evaluate_consilium(consilium, consilium.retriever.embedder, golden, heldout, config.max_new_tokens,
                                 log=announce, progress=Progress(announce, "consilium answers", "answers").update)
    use_experiment(mlflow_tracking.uri(), "persona-consilium")
    with mlflow.start_run(run_name="consilium_eval", tags={"dagster.run_id": context.run.run_id,
                                                           "adapters": "; ".join(consilium.adapters.available.values()) or "none"}) as run:
        mlflow.log_params({"questions_per_set": config.questions_per_set, "max_new_tokens": config.max_new_tokens})
        for name, values in results["metrics"].items():
            mlflow.log_metrics({f"{name}.{metric}": value for metric, value in values.items() if value is not None})
        mlflow.log_metric("routing_accuracy", results["routing_accuracy"])
        mlflow.log_table({k: [row[k] for row in results["rows"]] for k in results["rows"][0]}, artifact_file="answers.json")
        figure = _figure(results["metrics"])
        mlflow.log_figure(figure, "consilium_eval.png")
    table = markdown_table(["configuration", *METRICS],
                           [[name, *[_fmt(results["metrics"][name][m]) for m in METRICS]] for name in CONFIGURATIONS])
    return dg.MaterializeResult(metadata={
        "by_configuration": dg.MetadataValue.md(table), "routing_accuracy": results["routing_accuracy"],
        "chart": image(figure, "consilium metrics by configuration"),
        "mlflow_run_id": run.info.run_id,
        "mlflow_run": dg.MetadataValue.url(run_url(mlflow_tracking.uri(), run.info.experiment_id, run.info.run_id)),
        "adapters": "; ".join(consilium.adapters.available.values()) or "none",
        "questions": len(golden) + len(heldout)})


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _figure(metrics: dict):
    return charts.metric_bars(metrics, {"answer_similarity": "answer similarity to reference (cosine)",
                                        "reference_loss": "reference answer loss (lower is better)"})
