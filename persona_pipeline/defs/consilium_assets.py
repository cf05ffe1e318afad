"""The consilium evaluated as an asset and tracked as an MLflow run (models and mlflow imported when it runs)."""
import dagster as dg

from .. import charts
from ..progress import Announcer, Progress
from ..rag.evaluation import load_golden_set
from ..settings import PROJECT_DIR
from ..training.adapters import ADAPTERS
from ..training.tracking import RunLogger, run_url
from .grouping import EVALUATION, in_group
from .metadata import image, markdown_table
from .resources import MlflowTracking, PersonaPaths, TrainingSettingsResource

METRICS = ("answer_similarity", "reference_loss", "expected_source_retrieved", "citations_in_answer_correct")


class ConsiliumEvalConfig(dg.Config):
    questions_per_set: int = 3
    # the grounded question set (relative to the project folder) and how many of its questions are scored,
    # spread over both languages and the unanswerable ones; 0 means all
    grounded_set: str = "eval/grounded_questions.yaml"
    grounded_questions: int = 12
    max_new_tokens: int = 48


@dg.asset(deps=["knowledge_index", "core_self_eval", "sport_mind_eval"], kinds={"mlflow"},
          description="base / base+RAG / adapters / adapters+RAG / evidence alone side by side on golden, held-out and grounded questions, tracked in MLflow.")
def consilium_eval(context: dg.AssetExecutionContext, config: ConsiliumEvalConfig, persona_paths: PersonaPaths,
                   mlflow_tracking: MlflowTracking, training_settings: TrainingSettingsResource) -> dg.MaterializeResult:
    from ..consilium.answer import reading_bar
    from ..consilium.evaluation.ablations import HeldoutPrompt, evaluate_consilium
    from ..consilium.evaluation.grounded_eval import CONFIGURATIONS, METRICS as GROUNDED_METRICS
    from ..consilium.evaluation.grounded_set import load_grounded_set, spread
    from ..consilium.runtime.loading import open_consilium
    from ..sft.adapter_data import load_heldout

    paths, rag, settings = persona_paths.paths(), persona_paths.rag_config(), training_settings.settings()
    announce = Announcer(context.log.info)
    consilium = open_consilium(paths, settings=settings, uri=mlflow_tracking.uri(), log=announce)
    golden = load_golden_set(rag.evaluation.golden_set)[: config.questions_per_set]
    heldout = []
    for key, spec in ADAPTERS.items():
        for messages in load_heldout(spec, settings)[: config.questions_per_set]:
            user = next(m["content"] for m in messages if m["role"] == "user")
            reference = next(m["content"] for m in messages if m["role"] == "assistant")
            heldout.append(HeldoutPrompt(user, reference, sport=key == "sport"))
    grounded = spread(load_grounded_set(PROJECT_DIR / config.grounded_set), config.grounded_questions)
    results = evaluate_consilium(consilium, consilium.retriever.embedder, golden, heldout, grounded, config.max_new_tokens,
                                 log=announce, progress=Progress(announce, "consilium answers", "answers").update)
    verdict = None
    if results["readings"]:
        verdict = reading_bar.measure(results["readings"], [h.question for h in heldout], [h.reference for h in heldout],
                                      consilium.scorer.meaning, consilium.base.model_id, consilium.base.revision)
        reading_bar.save(paths.data_dir, verdict)
        announce(f"reading bar: {'cleared' if verdict.passed else 'not cleared'}: {verdict.describe()}")
    tracking = RunLogger(mlflow_tracking.uri(), "persona-consilium")
    with tracking.new_run("consilium_eval", {"dagster.run_id": context.run.run_id,
                                             "adapters": "; ".join(consilium.adapters.available.values()) or "none"}) as run:
        run.log_params({"questions_per_set": config.questions_per_set, "max_new_tokens": config.max_new_tokens,
                        "grounded_questions": len(grounded)})
        for name, values in results["metrics"].items():
            run.log_metrics({f"{name}.{metric}": value for metric, value in values.items() if value is not None})
        for name, values in results["grounded"].items():
            run.log_metrics({f"{name}.grounded.{metric}": value for metric, value in values.items() if value is not None})
        columns = dict.fromkeys(k for row in results["grounded_rows"] for k in row)
        run.log_table({k: [row.get(k) for row in results["grounded_rows"]] for k in columns}, "grounded_answers.json")
        run.log_metrics({"routing_accuracy": results["routing_accuracy"]})
        if verdict:
            run.log_metrics({"reading_bar.share": verdict.share, "reading_bar.passed": float(verdict.passed),
                             "reading_bar.invented_figures": verdict.invented_figures})
        run.log_table({k: [row[k] for row in results["rows"]] for k in results["rows"][0]}, "answers.json")
        figure = _figure(results["metrics"], results["grounded"])
        run.log_figure(figure, "consilium_eval.png")
    table = markdown_table(["configuration", *METRICS],
                           [[name, *[_fmt(results["metrics"][name][m]) for m in METRICS]] for name in CONFIGURATIONS])
    grounded_table = markdown_table(["configuration", *GROUNDED_METRICS],
                                    [[name, *[_fmt(results["grounded"][name][m]) for m in GROUNDED_METRICS]]
                                     for name in CONFIGURATIONS])
    return dg.MaterializeResult(metadata={
        "by_configuration": dg.MetadataValue.md(table), "grounded": dg.MetadataValue.md(grounded_table),
        "grounded_answers": dg.MetadataValue.md(_answers_table(results["grounded_rows"])),
        "routing_accuracy": results["routing_accuracy"],
        "chart": image(figure, "consilium metrics by configuration"),
        "mlflow_run_id": run.run_id,
        "mlflow_run": dg.MetadataValue.url(run_url(tracking.uri, tracking.experiment_id, run.run_id)),
        "adapters": "; ".join(consilium.adapters.available.values()) or "none",
        "questions": len(golden) + len(heldout), "grounded_questions": len(grounded),
        "reading_bar": verdict.describe() if verdict else "not measured (no held-out dialogues)",
        "readings_shown": bool(verdict and verdict.passed)})


def _answers_table(rows: list[dict]) -> str:
    adapters_rag = [r for r in rows if r["configuration"] == "adapters_rag"]
    return markdown_table(["id", "question", "gold", "answer", "fact", "outcome"],
                          [[r["id"], r["question"], r["gold"], r["answer"][:300], r.get("fact_in_answer", ""), r["outcome"]]
                           for r in adapters_rag])


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _figure(metrics: dict, grounded: dict):
    merged = {name: {**metrics[name], **grounded[name]} for name in metrics}
    return charts.metric_bars(merged, {"fact_in_answer_when_retrieved": "gold fact in the answer (when retrieved)",
                                       "unsupported_number": "answers with a number in no excerpt",
                                       "answer_similarity": "similarity to held-out reference (cosine)"})


defs = dg.Definitions(assets=in_group(EVALUATION, consilium_eval))
