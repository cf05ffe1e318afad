"""`persona`: what a person does outside the Dagster UI. Every command calls the same code the assets do."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .settings import PROJECT_DIR, Paths


# the libraries' own bars (dataset saving, weight loading, artifact downloads) would bury the pipeline's
# progress; set before those libraries are imported, which read them once
QUIET_LIBRARY_BARS = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
                      "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def main(argv: list[str] | None = None) -> int:
    for name, value in QUIET_LIBRARY_BARS.items():
        os.environ.setdefault(name, value)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.materials:
        os.environ["PERSONA_MATERIALS_DIR"] = str(Path(args.materials).resolve())
    if args.data:
        os.environ["PERSONA_DATA_DIR"] = str(Path(args.data).resolve())
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


class UserError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--materials", metavar="DIR", help="materials folder (default: $PERSONA_MATERIALS_DIR or raw_materials/)")
    common.add_argument("--data", metavar="DIR", help="folder for everything derived (default: $PERSONA_DATA_DIR or data/)")
    parser = argparse.ArgumentParser(prog="persona", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", parents=[common], help="materialize the knowledge assets through Dagster")
    index.add_argument("--eval", action="store_true", help="also materialize retrieval_eval on the golden set")
    index.add_argument("--force", action="store_true", help="start a Dagster run even when nothing changed since the last build")
    index.add_argument("-v", "--verbose", action="store_true", help="show Dagster's full event log instead of progress bars")
    index.set_defaults(handler=_index)

    search = commands.add_parser("search", parents=[common], help="hybrid search of the knowledge index")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    search.add_argument("--type", dest="kind", help="only this knowledge type (article, lecture, training_log, ...)")
    search.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    search.add_argument("--json", action="store_true", help="machine-readable results")
    search.set_defaults(handler=_search)

    train = commands.add_parser("train", parents=[common], help="materialize an adapter's dataset, LoRA and evaluation through Dagster")
    train.add_argument("adapter", choices=["core", "sport"])
    train.add_argument("--max-steps", type=int, help="training steps (default from training/defaults.yaml)")
    train.add_argument("-v", "--verbose", action="store_true", help="show Dagster's full event log instead of progress bars")
    train.set_defaults(handler=_train)

    ask = commands.add_parser("ask", parents=[common], help="answer in the coach's voice, with citations to his own texts")
    ask.add_argument("question")
    ask.add_argument("--adapters", default="auto", help="auto (default: CoreSelf, plus SportMind for sports questions), core,sport, core or none")
    ask.add_argument("--adapter-source", help="registry alias (default champion), version number, or a folder with core/ and sport/")
    ask.add_argument("--no-rag", action="store_true", help="answer without retrieving from the knowledge index")
    ask.add_argument("--evidence-only", action="store_true", help="only the quoted evidence (or the abstention), no generated reading")
    ask.add_argument("-k", type=int, help="number of excerpts to retrieve (default from RAG_config.yaml)")
    ask.add_argument("--explain", action="store_true", help="print the routing decision and the adapters used")
    ask.add_argument("--json", action="store_true", help="print answer, adapters and citations as JSON")
    ask.set_defaults(handler=_ask)

    evaluate = commands.add_parser("eval", parents=[common], help="materialize retrieval_eval and consilium_eval through Dagster")
    evaluate.add_argument("--questions", type=int, default=3, help="questions per set for the consilium ablations (default 3)")
    evaluate.add_argument("--grounded", type=int, default=12, help="grounded questions scored (default 12; 0 = all of eval/grounded_questions.yaml)")
    evaluate.add_argument("-v", "--verbose", action="store_true", help="show Dagster's full event log instead of progress bars")
    evaluate.set_defaults(handler=_eval)

    validate = commands.add_parser("validate", parents=[common], help="check the worldview examples and print every problem")
    validate.set_defaults(handler=_validate)
    return parser


def _index(args) -> int:
    paths = Paths.resolve()
    print(f"indexing {paths.materials_dir} -> {paths.data_dir}", file=sys.stderr)
    started = time.perf_counter()
    if not (args.eval or args.force):
        from .rag.sources import unchanged_since_last_build

        built = unchanged_since_last_build(paths)
        if built is not None:
            from .rag.index_store import read_manifest

            _files_summary(read_manifest(paths.index_dir)["files"], built["files_indexed"], paths)
            print(f"chunks: {built['chunks']} (0 newly embedded, {built['chunks']} from cache)")
            print(f"index version: {built['version']} (unchanged) in {paths.index_dir}")
            print(f"time: {time.perf_counter() - started:.1f} s (nothing changed since that version was built: "
                  "no Dagster run; --force starts one)")
            return 0
    import dagster as dg

    from .defs.definitions import build_definitions
    from .defs.knowledge_assets import GROUP, INDEX_WRITER_TAG

    defs = build_definitions()
    selection = dg.AssetSelection.groups(GROUP)
    if args.eval:
        selection = selection | dg.AssetSelection.assets("retrieval_eval")
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks], selection=selection,
        instance=_dagster_instance(), resources=defs.resources,
        run_config=_console(args),
        tags={**INDEX_WRITER_TAG, "persona/source": "cli"}, raise_on_error=False,
    )
    elapsed = time.perf_counter() - started
    if not result.success:
        raise UserError("the knowledge run failed; rerun with --verbose to see the Dagster log")
    meta = {node: _metadata(result, node) for node in ("knowledge_index", "chunk_embeddings")}
    index_meta, embed_meta = meta["knowledge_index"], meta["chunk_embeddings"]
    from .rag.index_store import read_manifest

    _files_summary(read_manifest(paths.index_dir)["files"], index_meta["files_indexed"], paths)
    print(f"chunks: {index_meta['chunks']} ({embed_meta['newly_embedded']} newly embedded, {embed_meta['from_cache']} from cache)")
    print(f"index version: {index_meta['version']}{'' if index_meta['new_version'] else ' (unchanged)'} in {paths.index_dir}")
    if args.eval:
        evaluation = _metadata(result, "retrieval_eval")
        print(f"retrieval eval: hybrid recall@5 {evaluation['hybrid_recall@5']:.3f}, MRR {evaluation['hybrid_mrr']:.3f} "
              f"on {evaluation['questions']} golden questions; by question language:\n{evaluation['by_language']}")
    print(f"time: {elapsed:.1f} s (Dagster run {result.run_id})")
    return 0


def _files_summary(files: dict, indexed: int, paths: Paths) -> None:
    """Files indexed (and which with warnings) and skipped, each problem on its line with the file's report."""
    skipped = {p: [f["reason"]] for p, f in files.items() if f["status"] == "skipped"}
    partly = {p: f["warnings"] for p, f in files.items() if f["status"] == "indexed" and f.get("warnings")}
    print(f"files indexed: {indexed}" + (f" ({len(partly)} with warnings)" if partly else ""))
    for path, warnings in partly.items():
        _print_file_problems(path, warnings, files[path].get("report"), paths)
    print(f"files skipped: {len(skipped)}")
    for path, reasons in skipped.items():
        _print_file_problems(path, reasons, files[path].get("report"), paths)


def _print_file_problems(path: str, lines: list[str], report: str | None, paths: Paths) -> None:
    for line in lines:
        print(f"  - {path}: {line}")
    if report:
        print(f"    every row: {paths.data_dir / report}")


def _console(args) -> dict:
    """In a terminal: progress bars with ETA and the stage messages, Dagster's log only for warnings.
    Elsewhere (a pipe, CI) or with -v: the log lines, which carry the same progress with ETA."""
    from . import progress

    bars = sys.stderr.isatty() and not args.verbose
    progress.draw_in_terminal(sys.stderr if bars else None)
    level = "DEBUG" if args.verbose else "WARNING" if bars else "INFO"
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def _dagster_instance():
    import dagster as dg

    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_DIR / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def _train(args) -> int:
    import dagster as dg

    from .defs.definitions import build_definitions
    from .training.adapters import ADAPTERS

    spec = ADAPTERS[args.adapter]
    defs = build_definitions()
    selection = ["base_model", spec.dataset_asset, spec.asset_name, spec.eval_asset]
    run_config = _console(args)
    if args.max_steps:
        run_config["resources"] = {"training_settings": {"config": {"max_steps": args.max_steps}}}
    print(f"training {spec.title} on {Paths.resolve().materials_dir / spec.examples_folder}", file=sys.stderr)
    started = time.perf_counter()
    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=selection, instance=_dagster_instance(),
                            resources=defs.resources, run_config=run_config, raise_on_error=False,
                            tags={"persona/source": "cli"})
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    if checks.get("examples_valid") is False:
        raise UserError(f"the {spec.title} examples have problems; `persona validate` lists them")
    if not result.success:
        raise UserError("the training run failed; rerun with --verbose to see the Dagster log")
    trained, evaluated = _metadata(result, spec.asset_name), _metadata(result, spec.eval_asset)
    print(f"MLflow run: {trained['mlflow_run_id']} ({trained['mlflow_run']})")
    print(f"adapter files: {trained['adapter_dir']}")
    print(f"registered: {trained['registered_model']} version {trained['version']}")
    print(f"held-out loss: adapter {trained['heldout_loss']:.4f}, base model {trained['base_heldout_loss']:.4f}")
    if evaluated["became_champion"]:
        print(f"champion: yes, version {evaluated['version']} is now the champion")
    else:
        print(f"champion: no, version {evaluated['previous_champion']} stays champion "
              f"(held-out loss {evaluated['champion_heldout_loss']:.4f})")
    print(f"time: {time.perf_counter() - started:.1f} s (Dagster run {result.run_id})")
    return 0


def _ask(args) -> int:
    from .consilium.answering import AskError
    from .consilium.loading import open_consilium
    from .training.tracking import TrackingUnreachable

    if not args.question.strip():
        raise UserError("the question is empty")
    try:
        consilium = open_consilium(Paths.resolve(), adapter_source=args.adapter_source, rag=not args.no_rag,
                                   log=lambda message: print(message, file=sys.stderr))
        stream = None if args.json else (lambda piece: print(piece, end="", flush=True))
        answer = consilium.ask(args.question, adapters=args.adapters, rag=not args.no_rag, k=args.k,
                               generate=not args.evidence_only, on_token=stream)
    except (AskError, TrackingUnreachable) as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=1))
        return 0
    print()
    if answer.sources:
        print("\nSources:")
        for citation in answer.sources:
            print(f"  [{citation.number}] {citation.source} ({citation.location})")
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.explain:
        if answer.route:
            print(f"routing: {'sport' if answer.route.sport else 'general'} question ({answer.route.reason})", file=sys.stderr)
        print(f"adapters: {', '.join(answer.adapters) or 'none (base model)'}", file=sys.stderr)
        if answer.evidence:
            best = answer.evidence.candidates[:1]
            print(f"evidence: {len(answer.evidence.quotes)} sentence(s) quoted" if answer.evidence.supported else
                  f"evidence: none reaches the support threshold (best {best[0].score:.2f})" if best else
                  "evidence: no sentence to score", file=sys.stderr)
            for quote in answer.evidence.quotes:
                print(f"  [{quote.number}] p={quote.score:.2f} {quote.sentence[:80]}", file=sys.stderr)
        for dropped in answer.dropped:
            print(f"dropped from the generated part: \"{dropped.text[:80]}\" ({dropped.reason})", file=sys.stderr)
    return 0


def _eval(args) -> int:
    import dagster as dg

    from .defs.definitions import build_definitions

    defs = build_definitions()
    run_config = {**_console(args), "ops": {"consilium_eval": {"config": {"questions_per_set": args.questions,
                                                                          "grounded_questions": args.grounded}}}}
    started = time.perf_counter()
    result = dg.materialize([*defs.assets, *defs.asset_checks], selection=["retrieval_eval", "consilium_eval"],
                            instance=_dagster_instance(), resources=defs.resources, run_config=run_config,
                            raise_on_error=False, tags={"persona/source": "cli"})
    if not result.success:
        raise UserError("the evaluation run failed; rerun with --verbose to see the Dagster log")
    retrieval, consilium = _metadata(result, "retrieval_eval"), _metadata(result, "consilium_eval")
    print(f"retrieval on {retrieval['questions']} golden questions:\n{retrieval['by_mode']}\nby question language:\n{retrieval['by_language']}")
    print(f"consilium ({consilium['adapters']}), MLflow run {consilium['mlflow_run']}:\n{consilium['by_configuration']}")
    print(f"grounded questions ({consilium['grounded_questions']}):\n{consilium['grounded']}")
    print(f"routing accuracy: {consilium['routing_accuracy']:.3f}")
    print(f"time: {time.perf_counter() - started:.1f} s (Dagster run {result.run_id})")
    return 0


def _validate(args) -> int:
    from .training.adapters import ADAPTERS
    from .training.base_model import load_tokenizer, prepare_base_model
    from .training.pipeline import validate_examples
    from .training.settings import TrainingSettings

    paths, settings, failed = Paths.resolve(), TrainingSettings(), False
    # the base model's tokenizer and chat template decide whether an example fits the context
    tokenizer = load_tokenizer(prepare_base_model(settings.base_model, log=lambda m: print(m, file=sys.stderr)))
    for spec in ADAPTERS.values():
        examples, problems = validate_examples(spec, paths, settings, tokenizer)
        print(f"{spec.title} ({paths.materials_dir / spec.examples_folder}): {len(examples)} valid examples, {len(problems)} problem(s)")
        for problem in problems:
            print(f"  {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


def _metadata(result, node: str) -> dict:
    events = result.asset_materializations_for_node(node)
    return {k: getattr(v, "value", v) for k, v in events[-1].metadata.items()} if events else {}


def _search(args) -> int:
    from .rag.index_store import IndexNotFound
    from .rag.retrieval import open_retriever
    from .rag_config import load_rag_config

    paths = Paths.resolve()
    config = load_rag_config(paths.config_path)
    if args.kind and args.kind not in config.knowledge_types:
        raise UserError(f"unknown knowledge type '{args.kind}'; known: {', '.join(config.knowledge_types)}")
    if not args.query.strip():
        raise UserError("empty query")
    try:
        retriever = open_retriever(paths.index_dir, config)
    except IndexNotFound as exc:
        raise UserError(str(exc)) from exc
    hits = retriever.search(args.query, k=args.k, kind=args.kind, mode=args.mode)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("no results")
    for hit in hits:
        chunk = hit.chunk
        print(f"[{hit.rank}] {chunk.source} ({chunk.kind}, {chunk.location_label()})  score {hit.score:.4f}")
        snippet = " ".join(chunk.text.split())
        print(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
