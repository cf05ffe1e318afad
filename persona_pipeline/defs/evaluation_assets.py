"""Retrieval evaluation on the golden set, with a check that fails when recall@5 regresses."""

import json

import dagster as dg

from ..rag.evaluation import KS, evaluate_retrieval, load_golden_set
from ..rag.index_store import load_index
from ..rag.retrieval import MODES, Retriever
from .knowledge_assets import knowledge_index
from .metadata import markdown_table
from .resources import EmbedderResource, PersonaPaths

RESULTS = "retrieval_eval.json"


@dg.asset(deps=[knowledge_index], group_name="evaluation", kinds={"python"}, owners=["team:persona"],
          description="recall@k and MRR of dense, BM25 and hybrid retrieval on the golden questions.")
def retrieval_eval(persona_paths: PersonaPaths, embedder: EmbedderResource) -> dg.MaterializeResult:
    paths, config = persona_paths.paths(), persona_paths.knowledge_config()
    if config.golden_set is None:
        raise dg.Failure("no evaluation.golden_set in the knowledge config")
    retriever = Retriever(load_index(paths.index_dir), embedder.load(config), config.candidates, config.rrf_k)
    results = evaluate_retrieval(retriever, load_golden_set(config.golden_set))
    out = paths.data_dir / "eval" / RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    table = markdown_table(["mode"] + [f"recall@{k}" for k in KS] + ["MRR"],
                           [[m] + [f"{results[m][f'recall@{k}']:.3f}" for k in KS] + [f"{results[m]['mrr']:.3f}"] for m in MODES])
    misses = [[q["id"], q["question"], q["expected"], q["rank"], q["top1"]] for q in results["per_question"] if q["rank"] != 1]
    return dg.MaterializeResult(metadata={
        "questions": results["questions"],
        "hybrid_recall@5": results["hybrid"]["recall@5"],
        "hybrid_mrr": results["hybrid"]["mrr"],
        "by_mode": dg.MetadataValue.md(table),
        "not_first": dg.MetadataValue.md(markdown_table(["id", "question", "expected", "rank", "top 1"], misses)),
    })


@dg.asset_check(asset=retrieval_eval, description="Hybrid recall@5 stays above the threshold in the knowledge config.")
def recall_at_5_above_threshold(persona_paths: PersonaPaths) -> dg.AssetCheckResult:
    paths, config = persona_paths.paths(), persona_paths.knowledge_config()
    results = json.loads((paths.data_dir / "eval" / RESULTS).read_text())
    recall = results["hybrid"]["recall@5"]
    return dg.AssetCheckResult(passed=recall >= config.min_recall_at_5,
                               metadata={"recall@5": recall, "threshold": config.min_recall_at_5})
