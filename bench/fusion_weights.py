"""How much should each ranking count for each query language? Builds the index of the sample corpus
into --data (or reads the index already there) and prints, per golden-question language, recall@5 and MRR of dense,
BM25 and hybrid for a grid of dense-ranking weights (BM25 at 1.0), side by side in one run. The
weights in RAG_config.yaml (`retrieval.weights`) come from this table.

Usage (under the CPU lock): .venv/bin/python bench/fusion_weights.py [--data DIR]
"""
import argparse
import tempfile
from pathlib import Path

from persona_pipeline.rag import build
from persona_pipeline.rag.embedding import open_embedder
from persona_pipeline.rag.evaluation import SINGLE_MODES, evaluate_retrieval, load_golden_set
from persona_pipeline.rag.index_store import load_index, read_manifest
from persona_pipeline.rag.retrieval import Retriever
from persona_pipeline.rag_config import LANGUAGES, equal_weights, load_rag_config
from persona_pipeline.settings import PROJECT_DIR, Paths

DENSE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, help="data folder; its index is built when missing (default: a temp folder)")
    args = parser.parse_args()
    config = load_rag_config(PROJECT_DIR / "RAG_config.yaml")
    embedder = open_embedder(config.embedding.model, config.embedding.batch_size)
    data = args.data or Path(tempfile.mkdtemp(prefix="persona-weights-"))
    paths = Paths.resolve(PROJECT_DIR / "raw_materials", data)
    if read_manifest(paths.index_dir) is None:
        build.build_documents(paths, config)
        build.build_chunks(paths, config, embedder)
        build.build_index(paths, config, embedder)
    index, questions = load_index(paths.index_dir), load_golden_set(config.evaluation.golden_set)
    print(f"{len(questions)} golden questions, {len(index.chunks)} chunks, model {embedder.name}; configured: {config.retrieval.fusion_weights}")
    rows = {}
    for weight in DENSE_WEIGHTS:
        weights = equal_weights()
        for language in LANGUAGES:
            weights[language]["dense"] = weight
        rows[weight] = evaluate_retrieval(Retriever(index, embedder, config.retrieval.candidates, config.retrieval.rrf_k, weights), questions)
    for language in LANGUAGES:
        first = next(iter(rows.values()))["by_language"][language]
        singles = ", ".join(f"{m} {first[m]['recall@5']:.3f} / {first[m]['mrr']:.3f}" for m in SINGLE_MODES)
        print(f"\n{language} ({first['questions']} questions), recall@5 / MRR: {singles}")
        for weight, results in rows.items():
            hybrid = results["by_language"][language]["hybrid"]
            print(f"  hybrid, dense weight {weight:.1f}: {hybrid['recall@5']:.3f} / {hybrid['mrr']:.3f}")


if __name__ == "__main__":
    main()
