"""Retrieval evaluation on the golden set, with a check that fails when recall@5 regresses."""

import json

import dagster as dg

from ..rag.evaluation import KS, evaluate_retrieval, hybrid_shortfalls, load_golden_set
from ..rag.retrieval import MODES, open_retriever
from .grouping import EVALUATION, in_group
from .knowledge_assets import knowledge_index
from .metadata import markdown_table
from .resources import EmbedderResource, PersonaPaths

RESULTS = "retrieval_eval.json"


@dg.asset(deps=[knowledge_index], kinds={"python"},
          description="recall@k and MRR of dense, BM25 and hybrid retrieval on the golden questions.")
def retrieval_eval(persona_paths: PersonaPaths, embedder: EmbedderResource) -> dg.MaterializeResult:
    paths, config = persona_paths.paths(), persona_paths.rag_config()
    if config.evaluation.golden_set is None:
        raise dg.Failure("no evaluation.golden_set in the knowledge config")
    retriever = open_retriever(paths.index_dir, config, embedder.load(config))
    results = evaluate_retrieval(retriever, load_golden_set(config.evaluation.golden_set))
    out = paths.data_dir / "eval" / RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    table = markdown_table(["mode"] + [f"recall@{k}" for k in KS] + ["MRR"], [_scores_row(m, results[m]) for m in MODES])
    by_language = markdown_table(["language", "questions", "mode"] + [f"recall@{k}" for k in KS] + ["MRR"],
                                 [[language, scores["questions"], *_scores_row(m, scores[m])]
                                  for language, scores in results["by_language"].items() for m in MODES])
    misses = [[q["id"], q["question"], q["expected"], q["rank"], q["top1"]] for q in results["per_question"] if q["rank"] != 1]
    return dg.MaterializeResult(metadata={
        "questions": results["questions"],
        "hybrid_recall@5": results["hybrid"]["recall@5"],
        "hybrid_mrr": results["hybrid"]["mrr"],
        "by_mode": dg.MetadataValue.md(table),
        "by_language": dg.MetadataValue.md(by_language),
        **{f"hybrid_recall@5_{language}": scores["hybrid"]["recall@5"] for language, scores in results["by_language"].items()},
        "not_first": dg.MetadataValue.md(markdown_table(["id", "question", "expected", "rank", "top 1"], misses)),
    })


def _scores_row(mode: str, scores: dict) -> list:
    return [mode] + [f"{scores[f'recall@{k}']:.3f}" for k in KS] + [f"{scores['mrr']:.3f}"]


def _results(persona_paths: PersonaPaths) -> dict:
    return json.loads((persona_paths.paths().data_dir / "eval" / RESULTS).read_text())


@dg.asset_check(asset=retrieval_eval, description="In each question language, hybrid recall@5 is at least the best single ranking's.")
def hybrid_at_least_best_single_mode(persona_paths: PersonaPaths) -> dg.AssetCheckResult:
    shortfalls = hybrid_shortfalls(_results(persona_paths))
    return dg.AssetCheckResult(passed=not shortfalls, metadata={"shortfalls": dg.MetadataValue.json(shortfalls)})


@dg.asset_check(asset=retrieval_eval, description="Hybrid recall@5 stays above the threshold in the knowledge config.")
def recall_at_5_above_threshold(persona_paths: PersonaPaths) -> dg.AssetCheckResult:
    threshold = persona_paths.rag_config().evaluation.min_recall_at_5
    results = _results(persona_paths)
    recall = results["hybrid"]["recall@5"]
    return dg.AssetCheckResult(passed=recall >= threshold, metadata={"recall@5": recall, "threshold": threshold})


defs = dg.Definitions(assets=in_group(EVALUATION, retrieval_eval),
                      asset_checks=[hybrid_at_least_best_single_mode, recall_at_5_above_threshold])
