"""`persona ask` end to end on the packaged models: a real index, adapters trained for two steps and
registered in a real MLflow store, answers streamed with citations."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from persona_pipeline.cli import main
from persona_pipeline.consilium.answer import reading_bar
from persona_pipeline.consilium.answer.answering import AskError
from persona_pipeline.consilium.runtime.meaning import open_encoder
from persona_pipeline.consilium.answer.faithfulness import unsupported_numbers
from persona_pipeline.consilium.runtime.loading import open_consilium
from persona_pipeline.defs.runs import run_evaluation
from persona_pipeline.settings import Paths
from persona_pipeline.training.adapters import ADAPTERS
from persona_pipeline.training.base_model import prepare_base_model

TAPER = "How long does the marathon taper last, and how much does the volume fall?"
WINTER_BASE = "Сколько недель длится зимний базовый период?"
NEVER_WRITTEN = "How many milligrams of caffeine do you recommend before a race?"
NEVER_WRITTEN_RU = "Какую диету вы советуете перед ультрамарафоном на сто километров?"
# nothing in the coach's texts is related to these
UNRELATED = "What is the best recipe for an apple pie?"
UNRELATED_RU = "Какой рецепт яблочного пирога самый лучший?"


@pytest.fixture(scope="module")
def world(trained_world):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", trained_world.uri)
        mlflow.set_tracking_uri(trained_world.uri)
        consilium = open_consilium(trained_world.paths, uri=trained_world.uri)
        yield {"paths": trained_world.paths, "uri": trained_world.uri, "consilium": consilium, "root": trained_world.root}


def test_the_answer_quotes_the_fact_from_the_page_it_cites_and_streams(world):
    pieces = []
    answer = world["consilium"].ask(TAPER, on_token=pieces.append, max_new_tokens=40, readings=True)
    assert answer.outcome == "direct" and answer.text.startswith("From my notes:") and "17 days" in answer.text
    quote = answer.evidence.quotes[0]
    assert "17 days" in quote.sentence and f"[{quote.number}]" in answer.text
    cited = answer.citations[quote.number - 1]
    assert (cited.source, cited.location) == ("articles/taper_before_marathon.pdf", "p. 1")
    assert quote.sentence in cited.text  # verbatim
    assert [s.source for s in answer.sources][0] == "articles/taper_before_marathon.pdf"
    assert len(pieces) > 1 and "".join(pieces).strip() == answer.text
    generated_numbers = unsupported_numbers(answer.generated, "\n".join([TAPER, *(c.text for c in answer.citations)]))
    assert generated_numbers == []  # the guard let no invented figure through


def test_a_russian_fact_is_answered_in_russian_from_the_russian_article(world):
    answer = world["consilium"].ask(WINTER_BASE, max_new_tokens=40)
    assert answer.language == "ru" and not answer.abstained
    assert answer.text.startswith("Из моих записей:") and "двенадцать недель" in answer.text
    assert answer.sources[0].source == "articles/zimniy_bazovy_period.txt"
    # SmolLM2 writes English only: no generated text, a pointer to a multilingual base model instead
    assert answer.generated == "" and not re.search("[A-Za-z]", answer.text)
    assert any("base_model_languages" in note for note in answer.notes)


def test_a_question_the_coach_never_wrote_about_gets_no_direct_answer_in_its_language(world):
    consilium = world["consilium"]
    english, russian = consilium.ask(UNRELATED), consilium.ask(UNRELATED_RU)
    assert english.outcome == "not_written" and english.text == "I have not written about this." and english.sources == []
    assert russian.outcome == "not_written" and russian.text == "Я об этом не писал."
    # on race nutrition he wrote, about caffeine he did not: the nearest passages, marked as not the answer
    for question, lead in ((NEVER_WRITTEN, "I have not written exactly this."), (NEVER_WRITTEN_RU, "Именно об этом")):
        answer = consilium.ask(question)
        assert answer.outcome != "direct" and not answer.evidence.quotes
        assert answer.outcome == "not_written" or (answer.text.startswith(lead) and answer.sources)


def test_the_model_loads_only_when_something_is_to_be_generated(world):
    """An abstention, a question in a language the base cannot write, and the evidence alone never pay for
    the base model and adapters; an English answer loads them once, after its quote."""
    fresh = open_consilium(world["paths"], uri=world["uri"])
    assert fresh.ask(UNRELATED).abstained
    assert "двенадцать недель" in fresh.ask(WINTER_BASE).text
    assert "17 days" in fresh.ask(TAPER, generate=False).text
    assert "model" not in fresh.adapters.__dict__
    pieces, loaded_at = [], []
    fresh.ask(TAPER, on_token=lambda piece: (pieces.append(piece), loaded_at.append("model" in fresh.adapters.__dict__)),
              max_new_tokens=8, readings=True)
    # the lead and the quote stream first, before the model is loaded for the reading
    assert "model" in fresh.adapters.__dict__ and pieces[0] == "From my notes:" and "17 days" in pieces[1]
    assert loaded_at[:2] == [False, False]


def test_a_cli_answer_imports_neither_transformers_nor_peft(world):
    """The packaged base and its LoRA adapters run in plain torch, so a cold `persona ask` does not pay the
    seconds of importing transformers, peft or sentence-transformers; training still uses them."""
    code = ("import sys; from persona_pipeline.cli import main; code = main(sys.argv[1:]); "
            "print(sorted({'transformers', 'peft', 'sentence_transformers'} & set(sys.modules)), code)")
    args = ["ask", TAPER, "--adapters", "core,sport", "--materials", str(world["paths"].materials_dir), "--data", str(world["paths"].data_dir)]
    for flags in (["--no-rag"], []):
        out = subprocess.run([sys.executable, "-c", code, *args, *flags], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "MLFLOW_TRACKING_URI": world["uri"]})
        assert out.returncode == 0, out.stderr
        answer, imported = out.stdout.strip().rsplit("\n", 1)
        assert imported == "[] 0" and answer.strip()


def test_routing_adds_sportmind_only_for_sports_questions(world):
    consilium = world["consilium"]
    sport = consilium.ask(TAPER, max_new_tokens=4)
    general = consilium.ask("How should I talk to a friend who keeps being late?", max_new_tokens=4)
    assert sport.route.sport and "marathon" in sport.route.reason
    assert [a.split(":")[0] for a in sport.adapters] == ["core", "sport"]
    assert not general.route.sport and [a.split(":")[0] for a in general.adapters] == ["core"]
    assert consilium.ask(TAPER, adapters="none", max_new_tokens=4).adapters == []


def test_adapters_change_the_output(world):
    consilium = world["consilium"]
    question = "Как вы относитесь к ошибкам?"
    english = "How do you feel about mistakes?"
    def everything_generated(answer) -> str:  # what the guard kept and what it dropped
        return answer.generated + "".join(d.text for d in answer.dropped)

    with_adapters = everything_generated(consilium.ask(english, rag=False, max_new_tokens=24, readings=True))
    without = everything_generated(consilium.ask(english, adapters="none", rag=False, max_new_tokens=24, readings=True))
    assert with_adapters and with_adapters != without
    reference = "Ошибка — это информация, а не приговор."
    assert consilium.reference_loss(question, reference, adapters="core", rag=False) != \
        consilium.reference_loss(question, reference, adapters="none", rag=False)


def test_clear_errors(world, tmp_path):
    consilium = world["consilium"]
    with pytest.raises(AskError, match="empty"):
        consilium.ask("   ")
    with pytest.raises(AskError, match="tokens long"):
        consilium.ask("tempo " * 2000)
    with pytest.raises(AskError, match="materialize the knowledge_index asset"):
        open_consilium(Paths.resolve(world["paths"].materials_dir, tmp_path / "empty"), uri=world["uri"])


def test_without_adapters_it_answers_with_the_base_model_and_says_so(world, tmp_path):
    empty_registry = f"sqlite:///{tmp_path / 'none.db'}"
    consilium = open_consilium(world["paths"], uri=empty_registry)
    answer = consilium.ask(TAPER, max_new_tokens=4)
    assert answer.adapters == [] and answer.text
    assert any("no CoreSelf adapter" in n and "persona train core" in n for n in answer.notes)


def test_the_registry_alias_is_honoured(world):
    client, name = MlflowClient(world["uri"]), ADAPTERS["core"].registered_model
    first = client.get_model_version_by_alias(name, "champion")
    again = client.create_model_version(name, source=first.source, run_id=first.run_id)
    client.set_registered_model_alias(name, "champion", again.version)
    try:
        consilium = open_consilium(world["paths"], uri=world["uri"])
        assert consilium.adapters.available["core"] == f"{name} v{again.version}"
        pinned = open_consilium(world["paths"], uri=world["uri"], adapter_source=str(first.version))
        assert pinned.adapters.available["core"] == f"{name} v{first.version}"
    finally:
        client.set_registered_model_alias(name, "champion", first.version)


def test_a_resolved_alias_is_reused_until_the_registry_changes(world, monkeypatch):
    from persona_pipeline.consilium.runtime.registry_cache import RegistryCache

    folder, name = world["paths"].data_dir / "consilium" / "adapters", ADAPTERS["core"].registered_model
    first = RegistryCache(world["uri"], folder)
    version, adapter_dir = first.resolve(name, "champion")
    first.save()
    asked = property(lambda self: pytest.fail("asked MLflow although the registry did not change"))
    with monkeypatch.context() as patch:
        patch.setattr(RegistryCache, "client", asked)
        assert RegistryCache(world["uri"], folder).resolve(name, "champion") == (version, adapter_dir)
        client = MlflowClient(world["uri"])
        # tracking that leaves the registry alone (a training run logging as it goes) keeps the answer
        run = client.create_run(client.get_run(client.get_model_version(name, version).run_id).info.experiment_id)
        client.log_metric(run.info.run_id, "loss", 1.0)
        client.set_terminated(run.info.run_id)
        assert RegistryCache(world["uri"], folder).resolve(name, "champion") == (version, adapter_dir)
    current = client.get_model_version(name, version)
    moved = client.create_model_version(name, source=current.source, run_id=current.run_id)
    client.set_registered_model_alias(name, "champion", moved.version)
    try:
        assert RegistryCache(world["uri"], folder).resolve(name, "champion")[0] == str(moved.version)
    finally:
        client.set_registered_model_alias(name, "champion", version)


def test_a_relative_sqlite_uri_is_stamped_like_the_absolute_one(world, monkeypatch):
    """`sqlite:///mlruns/mlflow.db`, as the README's MLflow UI command writes it, is relative to the
    working directory."""
    from persona_pipeline.consilium.runtime.registry_cache import store_stamp

    database = Path(world["uri"].removeprefix("sqlite:///"))
    monkeypatch.chdir(database.parent)
    stamp = store_stamp(f"sqlite:///{database.name}")
    assert stamp is not None and stamp == store_stamp(world["uri"])
    assert store_stamp("sqlite:///no_such_store.db") is None


def test_cli_json_and_explain(world, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world["uri"])
    args = ["--materials", str(world["paths"].materials_dir), "--data", str(world["paths"].data_dir)]
    assert main(["ask", TAPER, "--json", *args]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["evidence"][0]["source"] == "articles/taper_before_marathon.pdf" and result["routing"]["sport"]
    assert 0 < result["evidence"][0]["score"] <= 1 and "coverage" in result["evidence"][0]["signals"]
    assert set(result) >= {"answer", "generated", "dropped", "abstained", "outcome", "adapters", "citations", "evidence"}
    assert result["outcome"] == "direct"
    assert main(["ask", UNRELATED, "--json", "--evidence-only", *args]) == 0
    unrelated = json.loads(capsys.readouterr().out)
    assert unrelated["abstained"] is True and unrelated["outcome"] == "not_written"
    assert main(["ask", TAPER, "--explain", "--no-rag", *args]) == 0
    captured = capsys.readouterr()
    assert "Sources:" not in captured.out and "routing: sport question" in captured.err and "--no-rag" in captured.err
    assert main(["ask", "", *args]) == 2


GROUNDED = """
- {id: t1, language: en, question: "How many days does your marathon taper last?", answer: 17 days,
   source: articles/taper_before_marathon.pdf}
- {id: t2, language: ru, question: "Сколько недель длится зимний базовый период?", answer: двенадцать недель,
   source: articles/zimniy_bazovy_period.txt}
- {id: t3, language: en, question: "How many milligrams of caffeine do you recommend before a race?",
   answer: null, unanswerable: true}
"""


def test_consilium_eval_asset_runs_the_ablations_and_tracks_them(world, tmp_path):
    grounded = tmp_path / "grounded.yaml"
    grounded.write_text(GROUNDED, encoding="utf-8")
    paths = world["paths"]
    scores = run_evaluation(paths.materials_dir, paths.data_dir, with_retrieval=False, tracking_uri=world["uri"],
                            consilium={"questions_per_set": 1, "max_new_tokens": 4, "grounded_set": str(grounded),
                                       "grounded_questions": 0}).consilium
    assert scores.routing_accuracy == 1.0 and scores.questions == 3 and scores.grounded_questions == 3
    for name in ("base", "base_rag", "adapters", "adapters_rag", "evidence_only"):
        assert f"| {name} |" in scores.by_configuration and f"| {name} |" in scores.grounded
    run = MlflowClient(world["uri"]).get_run(scores.mlflow_run_id)
    metrics = run.data.metrics
    assert metrics["base_rag.expected_source_retrieved"] == 1.0
    assert metrics["adapters_rag.reference_loss"] != metrics["base_rag.reference_loss"]
    # the quotes carry the facts in both languages, and the RAG answers invent no figure and abstain on
    # what was never written; without retrieval no answer holds the fact
    for name in ("evidence_only", "adapters_rag", "base_rag"):
        assert metrics[f"{name}.grounded.fact_in_answer"] == 1.0
        assert metrics[f"{name}.grounded.citation_holds_fact"] == 1.0
        assert metrics[f"{name}.grounded.unsupported_number"] == 0.0
        assert metrics[f"{name}.grounded.abstained_unanswerable"] == 1.0
    assert metrics["adapters_rag.grounded.in_language_ru"] == 1.0 and metrics["adapters_rag.grounded.in_language_en"] == 1.0
    assert metrics["base.grounded.fact_in_answer"] == 0.0
    # the reading bar is measured for this base model and decides whether `ask` shows generated text
    verdict = reading_bar.load(paths.data_dir, *_base_key())
    assert verdict is not None and verdict.dialogues == 2 and metrics["reading_bar.share"] == verdict.share
    assert not verdict.passed and metrics["reading_bar.passed"] == 0.0  # two dialogues are too few to clear it
    fresh = open_consilium(paths, uri=world["uri"]).ask(TAPER, max_new_tokens=4)
    assert not fresh.generated and any("did not clear the reading bar" in n for n in fresh.notes)
    assert {a.path for a in MlflowClient(world["uri"]).list_artifacts(run.info.run_id)} >= \
        {"answers.json", "grounded_answers.json", "consilium_eval.png"}


def _base_key() -> tuple[str, str]:
    base = prepare_base_model()
    return base.model_id, base.revision


def test_the_reading_bar_passes_answers_nearest_their_own_reference_and_fails_others(tmp_path):
    questions = ["How do you treat a mistake?", "Как вы относитесь к конфликту в команде?", "What is your goal in a season?"]
    references = ["A mistake is information, not a verdict: we look at it and train again tomorrow.",
                  "Конфликт в команде я разбираю сразу, один на один, без зрителей.",
                  "One goal for the season, written down, and every week checked against it."]
    encoder = open_encoder()
    own = reading_bar.measure(references, questions, references, encoder, "base", "r1")
    shifted = reading_bar.measure(references[1:] + references[:1], questions, references, encoder, "base", "r1")
    invented = reading_bar.measure([r + " Run 42 km." for r in references], questions, references, encoder, "base", "r1")
    assert own.share == 1.0 and not own.passed  # three dialogues are too few
    assert reading_bar.measure(references * 2, questions * 2, references * 2, encoder, "b", "r").share == 0.5
    assert not shifted.passed and shifted.share == 0.0
    assert not invented.passed and invented.invented_figures == 3
    reading_bar.save(tmp_path, shifted)
    assert reading_bar.load(tmp_path, "base", "r1") == shifted and reading_bar.load(tmp_path, "base", "r2") is None
