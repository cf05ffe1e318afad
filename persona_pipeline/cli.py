"""`persona`: what a person does outside the Dagster UI. Every command calls the same code the assets do."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .excerpts import shorten
from .rag_config import MODES
from .settings import PROJECT_DIR, Paths
from .training.adapters import ADAPTERS


# the libraries' own bars (dataset saving, weight loading, artifact downloads) would bury the pipeline's
# progress; set before those libraries are imported, which read them once
QUIET_LIBRARY_BARS = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
                      "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
# characters of an excerpt `persona search` prints, and of a sentence `--explain` prints
SNIPPET_CHARS = 300
EXPLAIN_CHARS = 80
DEFAULT_PORT = 8000


def main(argv: list[str] | None = None) -> int:
    for name, value in QUIET_LIBRARY_BARS.items():
        os.environ.setdefault(name, value)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


class UserError(Exception):
    pass


# runs started here are told apart from the UI's, the sensor's and the schedule's in Dagster's run list
CLI_TAG = {"persona/source": "cli"}


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
    search.add_argument("--mode", choices=MODES, default=MODES[0])
    search.add_argument("--json", action="store_true", help="machine-readable results")
    search.set_defaults(handler=_search)

    train = commands.add_parser("train", parents=[common], help="materialize an adapter's dataset, LoRA and evaluation through Dagster")
    train.add_argument("adapter", choices=list(ADAPTERS))
    train.add_argument("--max-steps", type=int, help="training steps (default from training.yaml, else the package defaults)")
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

    serve = commands.add_parser("serve", parents=[common], help="the chat page and an OpenAI-compatible API (docs/server.md)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs an API key)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--api-key", default=os.environ.get("PERSONA_API_KEY"),
                       help="bearer token clients must send (default $PERSONA_API_KEY)")
    serve.add_argument("--adapter-source", help="registry alias (default champion, followed as it moves), version number, or a folder with core/ and sport/")
    serve.add_argument("--queue", type=_positive(int), help="answers waiting or running at once before 503 (default 8)")
    serve.add_argument("--timeout", type=_positive(float), help="seconds one request may take (default 120)")
    serve.set_defaults(handler=_serve)

    feedback = commands.add_parser("feedback", parents=[common], help="review the coach's corrections before they reach training")
    feedback.add_argument("action", choices=("list", "accept", "reject"))
    feedback.add_argument("ids", nargs="*", type=int, help="correction ids (accept, reject)")
    feedback.set_defaults(handler=_feedback)
    return parser


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
        return value
    return parse


def _paths(args) -> Paths:
    return Paths.resolve(args.materials, args.data)


def _index(args) -> int:
    paths = _paths(args)
    print(f"indexing {paths.materials_dir} -> {paths.data_dir}", file=sys.stderr)
    started = time.perf_counter()
    if not (args.eval or args.force):
        from .rag.sources import unchanged_since_last_build

        built = unchanged_since_last_build(paths)
        if built is not None:
            from .rag.index_pointer import read_manifest

            _files_summary(read_manifest(paths.index_dir)["files"], built["files_indexed"], paths)
            print(f"chunks: {built['chunks']} (0 newly embedded, {built['chunks']} from cache)")
            print(f"index version: {built['version']} (unchanged) in {paths.index_dir}")
            print(f"time: {time.perf_counter() - started:.1f} s (nothing changed since that version was built: "
                  "no Dagster run; --force starts one)")
            return 0
    from .defs.runs import run_knowledge

    run = run_knowledge(paths.materials_dir, paths.data_dir, with_eval=args.eval, instance=_dagster_instance(),
                        log_level=_console(args), tags=CLI_TAG)
    elapsed = time.perf_counter() - started
    if not run.success:
        raise UserError("the knowledge run failed; rerun with --verbose to see the Dagster log")
    from .rag.index_pointer import read_manifest

    index, embedded = run.index, run.embedded
    _files_summary(read_manifest(paths.index_dir)["files"], index.files_indexed, paths)
    print(f"chunks: {index.chunks} ({embedded.newly_embedded} newly embedded, {embedded.from_cache} from cache)")
    print(f"index version: {index.version}{'' if index.new_version else ' (unchanged)'} in {paths.index_dir}")
    if args.eval:
        scores = run.retrieval
        print(f"retrieval eval: hybrid recall@5 {scores.hybrid_recall_at_5:.3f}, MRR {scores.hybrid_mrr:.3f} "
              f"on {scores.questions} golden questions; by question language:\n{scores.by_language}")
    print(f"time: {elapsed:.1f} s (Dagster run {run.run_id})")
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


def _console(args) -> str:
    """In a terminal: progress bars with ETA and the stage messages, Dagster's log only for warnings.
    Elsewhere (a pipe, CI) or with -v: the log lines, which carry the same progress with ETA. Returns the
    log level of Dagster's console logger."""
    from . import progress

    bars = sys.stderr.isatty() and not args.verbose
    progress.draw_in_terminal(sys.stderr if bars else None)
    return "DEBUG" if args.verbose else "WARNING" if bars else "INFO"


def _dagster_instance():
    import dagster as dg

    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_DIR / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def _train(args) -> int:
    from .defs.runs import run_training

    spec, paths = ADAPTERS[args.adapter], _paths(args)
    print(f"training {spec.title} on {paths.materials_dir / spec.examples_folder}", file=sys.stderr)
    started = time.perf_counter()
    run = run_training(spec, paths.materials_dir, paths.data_dir, settings={"max_steps": args.max_steps} if args.max_steps else None,
                       instance=_dagster_instance(), log_level=_console(args), tags=CLI_TAG)
    if run.examples_valid is False:
        raise UserError(f"the {spec.title} examples have problems; `persona validate` lists them")
    if not run.success:
        raise UserError("the training run failed; rerun with --verbose to see the Dagster log")
    trained, verdict = run.trained, run.verdict
    print(f"MLflow run: {trained.mlflow_run_id} ({trained.mlflow_run})")
    print(f"adapter files: {trained.adapter_dir}")
    print(f"registered: {trained.registered_model} version {trained.version}")
    print(f"held-out loss: adapter {trained.heldout_loss:.4f}, base model {trained.base_heldout_loss:.4f}")
    if verdict.became_champion:
        print(f"champion: yes, version {verdict.version} is now the champion")
    else:
        print(f"champion: no, version {verdict.previous_champion} stays champion "
              f"(held-out loss {verdict.champion_heldout_loss:.4f})")
    print(f"time: {time.perf_counter() - started:.1f} s (Dagster run {run.run_id})")
    return 0


def _ask(args) -> int:
    from .consilium.answer.answering import AskError
    from .consilium.runtime.loading import open_consilium
    from .training.tracking import TrackingUnreachable

    if not args.question.strip():
        raise UserError("the question is empty")
    try:
        consilium = open_consilium(_paths(args), adapter_source=args.adapter_source, rag=not args.no_rag,
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
        print(f"outcome: {answer.outcome}", file=sys.stderr)
        if answer.evidence:
            best = answer.evidence.candidates[:1]
            print(f"evidence: {len(answer.evidence.quotes)} sentence(s) quoted" if answer.evidence.supported else
                  f"evidence: none reaches the support threshold (best {best[0].score:.2f})" if best else
                  "evidence: no sentence to score", file=sys.stderr)
            for quote in answer.evidence.quotes:
                print(f"  [{quote.number}] p={quote.score:.2f} {shorten(quote.sentence, EXPLAIN_CHARS)}", file=sys.stderr)
        for dropped in answer.dropped:
            print(f"dropped from the generated part: \"{shorten(dropped.text, EXPLAIN_CHARS)}\" ({dropped.reason})",
                  file=sys.stderr)
    return 0


def _eval(args) -> int:
    from .defs.runs import run_evaluation

    paths = _paths(args)
    started = time.perf_counter()
    run = run_evaluation(paths.materials_dir, paths.data_dir,
                         consilium={"questions_per_set": args.questions, "grounded_questions": args.grounded},
                         instance=_dagster_instance(), log_level=_console(args), tags=CLI_TAG)
    if not run.success:
        raise UserError("the evaluation run failed; rerun with --verbose to see the Dagster log")
    retrieval, consilium = run.retrieval, run.consilium
    print(f"retrieval on {retrieval.questions} golden questions:\n{retrieval.by_mode}\nby question language:\n{retrieval.by_language}")
    print(f"consilium ({consilium.adapters}), MLflow run {consilium.mlflow_run}:\n{consilium.by_configuration}")
    print(f"grounded questions ({consilium.grounded_questions}):\n{consilium.grounded}")
    print(f"routing accuracy: {consilium.routing_accuracy:.3f}")
    print(f"time: {time.perf_counter() - started:.1f} s (Dagster run {run.run_id})")
    return 0


def _validate(args) -> int:
    from .training.base_model import load_tokenizer, prepare_base_model
    from .sft.adapter_data import validate_examples
    from .training.settings import TrainingSettings

    paths, settings, failed = _paths(args), TrainingSettings(), False
    # the base model's tokenizer and chat template decide whether an example fits the context
    tokenizer = load_tokenizer(prepare_base_model(settings.base_model, log=lambda m: print(m, file=sys.stderr)))
    for spec in ADAPTERS.values():
        examples, problems = validate_examples(spec, paths, settings, tokenizer)
        print(f"{spec.title} ({paths.materials_dir / spec.examples_folder}): {len(examples)} valid examples, {len(problems)} problem(s)")
        for problem in problems:
            print(f"  {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


def _serve(args) -> int:
    import uvicorn

    from .server.app import ServerOptions, check_bind, create_app
    from .server.persona_service import PersonaService

    try:
        check_bind(args.host, args.api_key)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    options = ServerOptions(args.api_key, **{k: v for k, v in (("queue", args.queue), ("timeout", args.timeout)) if v is not None})
    service = PersonaService(_paths(args), adapter_source=args.adapter_source,
                             log=lambda message: print(message, file=sys.stderr, flush=True))
    print(f"chat page: http://{args.host}:{args.port}/  API: http://{args.host}:{args.port}/v1", file=sys.stderr, flush=True)
    uvicorn.run(create_app(service, options), host=args.host, port=args.port, log_level="warning")
    return 0


def _feedback(args) -> int:
    from .feedback import candidates
    from .feedback.store import WAITING, FeedbackStore

    paths = _paths(args)
    store = FeedbackStore.in_data(paths.data_dir)
    if args.action == "list":
        waiting = store.corrections(WAITING)
        print(f"{len(waiting)} correction(s) waiting for review")
        for c in waiting:
            print(f"  {c.id} ({candidates.adapter_of(c)}) Q: {shorten(c.question, EXPLAIN_CHARS)}\n"
                  f"     served: {shorten(c.answer, EXPLAIN_CHARS)}\n     his answer: {shorten(c.correction, EXPLAIN_CHARS)}")
        return 0
    if not args.ids:
        raise UserError(f"name the correction ids to {args.action} (`persona feedback list` shows them)")
    failed = False
    if args.action == "reject":
        for feedback_id in args.ids:
            try:
                candidates.reject(store, feedback_id)
                print(f"{feedback_id}: rejected")
            except LookupError as exc:
                print(f"{feedback_id}: {exc.args[0]}", file=sys.stderr)
                failed = True
        return 1 if failed else 0
    from .training.base_model import load_tokenizer, prepare_base_model
    from .training.settings import TrainingSettings

    settings = TrainingSettings()
    tokenizer = load_tokenizer(prepare_base_model(settings.base_model, log=lambda m: print(m, file=sys.stderr)))
    for feedback_id in args.ids:
        try:
            target = candidates.accept(store, paths, settings, tokenizer, feedback_id)
            print(f"{feedback_id}: accepted into {target}")
        except (LookupError, ValueError) as exc:
            print(f"{feedback_id}: {exc.args[0]}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _search(args) -> int:
    from .rag.index_store import IndexNotFound
    from .rag.retrieval import open_retriever
    from .rag_config import load_rag_config

    paths = _paths(args)
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
        print(f"    {shorten(chunk.text, SNIPPET_CHARS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
