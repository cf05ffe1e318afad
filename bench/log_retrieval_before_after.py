"""Date and figure questions about training logs, before and after sessions and weekly summaries:
the golden questions whose answer is a log, asked of an index built by the code at a baseline git
revision (one chunk per row) and by this working tree, side by side in one run, on the same materials.

Usage (under the CPU lock): .venv/bin/python bench/log_retrieval_before_after.py [--baseline main]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from index_build_bench import PROJECT, cpu_description, export_revision  # noqa: E402

TABLES = (".csv", ".xlsx", ".json")
# runs inside each tree, with only the functions both trees have
CHILD = """
import json, sys
from pathlib import Path
from persona_pipeline.rag import build
from persona_pipeline.rag.embedding import open_embedder
from persona_pipeline.rag.evaluation import evaluate_retrieval, load_golden_set
from persona_pipeline.rag.index_store import load_index
from persona_pipeline.rag.retrieval import Retriever
from persona_pipeline.settings import Paths

tree, materials, data, golden = map(Path, sys.argv[1:5])
try:
    from persona_pipeline.rag_config import load_rag_config
    config = load_rag_config(tree / "RAG_config.yaml")
    model, batch_size, retrieval = config.embedding.model, config.embedding.batch_size, config.retrieval
except ImportError:  # a tree from before RAG_config.yaml was one typed model
    from persona_pipeline.knowledge_config import load_config
    config = load_config(tree / "RAG_config.yaml")
    model, batch_size, retrieval = config.embedding_model, config.embedding_batch_size, config
embedder = open_embedder(model, batch_size)
paths = Paths.resolve(materials, data)
build.build_documents(paths, config)
build.build_chunks(paths, config, embedder)
build.build_index(paths, config, embedder)
index = load_index(paths.index_dir)
make = getattr(Retriever, "from_config", None)
retriever = make(index, embedder, retrieval) if make else Retriever(index, embedder, retrieval.candidates, retrieval.rrf_k)
results = {}
for subset in sys.argv[5:]:
    results[subset] = evaluate_retrieval(retriever, load_golden_set(golden.parent / subset))
results["log_chunks"] = sum(1 for c in index.chunks.values() if c.kind == "training_log")
print(json.dumps(results))
"""


def run_tree(tree: Path, materials: Path, work: Path, subsets: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PERSONA_PROJECT_DIR": str(tree), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(materials), str(work / f"data-{tree.name}"),
                          str(work / subsets[0]), *subsets], cwd=tree, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="main")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="persona-log-bench-"))
    try:
        baseline = work / "baseline"
        export_revision(args.baseline, baseline)
        questions = yaml.safe_load((PROJECT / "eval/golden_questions.yaml").read_text(encoding="utf-8"))
        subsets = {
            "table logs (csv, xlsx, json)": [q for q in questions if q["source"].startswith("logs/") and q["source"].endswith(TABLES)],
            "all logs (tables, device files, diaries)": [q for q in questions if q["source"].startswith("logs/")],
        }
        names = []
        for number, rows in enumerate(subsets.values()):
            names.append(f"subset{number}.yaml")
            (work / names[-1]).write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")
        materials = PROJECT / "raw_materials"
        runs = {f"baseline ({args.baseline})": run_tree(baseline, materials, work, names), "this tree": run_tree(PROJECT, materials, work, names)}
        print(f"cpu: {cpu_description()}")
        print(f"materials: {materials}; log chunks: " + ", ".join(f"{n} {r['log_chunks']}" for n, r in runs.items()))
        for (label, rows), name in zip(subsets.items(), names):
            print(f"\n{label}: {len(rows)} questions; recall@1 / recall@5 / MRR")
            for mode in ("dense", "bm25", "hybrid"):
                cells = [f"{r[name][mode]['recall@1']:.3f} / {r[name][mode]['recall@5']:.3f} / {r[name][mode]['mrr']:.3f}" for r in runs.values()]
                print(f"  {mode:>6}: " + "   ".join(f"{n}: {c}" for n, c in zip(runs, cells)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
